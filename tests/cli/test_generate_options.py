"""The options of ``boltzkit generate MODEL``: shared ones stated once, every command keeps its flags,
defaults and help (users and scripts rely on them)."""

import h5py
import pytest
from typer.main import get_command
from typer.testing import CliRunner

from boltzkit.cli.generate import app

COMMANDS = {"ising1d": (50, "Number of spins L"), "ising2d": (7, "Linear size L"), "ea2d": (7, "Linear size L"),
            "ising-kbody": (50, "Number of spins L"), "lattice-gas": (50, "Linear size L"),
            "blume-capel": (51, "Number of spins L"), "potts": (50, "Number of sites L"),
            "higher-order": (50, "Number of spins N")}
# (flags, default, help) of the options every generator has, in --help order around the model's own
FIRST = [(["--out", "-o"], None, "HDF5 file to write (samples + truth)"), (["--beta"], None, "Inverse temperature")]
LAST = [(["--seed"], 0, "Seed of the disorder and Monte Carlo streams"),
        (["--chains"], 100, "Parallel chains (each gives n-samples/chains samples)"),
        (["--sweeps-thermalize"], 1000, "Sweeps before the first sample"),
        (["--sweeps-between"], 10, "Sweeps between two samples of a chain"),
        (["--algorithm"], "metropolis", "metropolis | heat-bath"),
        (["--device"], "cpu", "cpu, cuda or cuda:N"), (["--threads"], None, "torch intra-op threads (default: torch's)"),
        (["--quiet"], False, "No progress bar"), (["--overwrite"], False, "Replace an existing --out file")]
OWN = {"ising1d": ["--coupling", "--field", "--open"], "ising2d": ["--coupling", "--field", "--open"],
       "ea2d": ["--coupling", "--ferromagnetic-fraction", "--field", "--open"],
       "ising-kbody": ["--order", "--kbody-coupling", "--n-terms", "--coupling", "--field", "--open"],
       "lattice-gas": ["--coupling", "--chemical-potential", "--dimension", "--open"],
       "blume-capel": ["--coupling", "--three-body", "--crystal-field", "--field", "--open"],
       "potts": ["--q", "--coupling", "--field", "--open"],
       "higher-order": ["--gamma", "--order", "--n-terms", "--coupling", "--pair-topology", "--pair-degree", "--field"]}


def test_every_command_has_the_shared_options_around_its_own():
    group = get_command(app)
    # `hierarchical` joins this group when boltzkit.cli.main is imported (it lives with the tree
    # commands and has options of its own), so it may or may not be there in this process
    assert set(group.commands) - {"hierarchical"} == set(COMMANDS)
    for name, (size_default, size_help) in COMMANDS.items():
        params = group.commands[name].params
        shared = FIRST + [(["--size", "-L"], size_default, size_help), (["--n-samples", "-n"], 10000, "Number of samples")]
        got = [(p.opts, None if p.required else p.default, p.help) for p in params]
        assert got[:4] == shared, name
        assert got[len(got) - len(LAST):] == LAST, name
        assert [p.opts[0] for p in params[4:len(params) - len(LAST)]] == OWN[name], name
        assert [p.name for p in params if p.required] == ["out", "beta"], name
    assert group.commands["lattice-gas"].params[5].opts == ["--chemical-potential", "--mu"]
    assert group.commands["ising2d"].help.startswith("2D Ising model on an L x L square lattice")


def test_shared_and_own_options_reach_the_generator(tmp_path):
    out = tmp_path / "gas.h5"
    result = CliRunner().invoke(app, ["lattice-gas", "-o", str(out), "--beta", "0.4", "-L", "5", "-n", "12",
                                      "--mu", "0.3", "--dimension", "2", "--open", "--chains", "3",
                                      "--sweeps-thermalize", "2", "--sweeps-between", "1", "--seed", "5",
                                      "--algorithm", "heat-bath", "--quiet"])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        assert f["samples"].shape == (12, 25)
        assert f.attrs["beta"] == 0.4
        d = dict(f["diagnostics"].attrs)
    assert (d["algorithm"], int(d["n_chains"]), int(d["sweeps_thermalize"]), int(d["sweeps_between"])) == \
        ("heat-bath", 3, 2, 1)


# ------------------------------------------------------------------ flags a generator does not take
# The Hamiltonians share --size, --beta and the Monte Carlo flags; `hierarchical` (a mutation
# process along a tree: no energy, no temperature) has --n-features, --levels, --branching and
# --flip-probs instead. The group's --help says so, and a flag the chosen generator lacks is one line
# naming the flags it takes.
EVERY = ["--out", "--n-samples", "--seed"]
HAMILTONIAN = ["--size", "--beta", "--chains", "--sweeps-thermalize", "--sweeps-between", "--algorithm",
               "--device", "--threads", "--quiet"]
HIERARCHICAL = ["--n-features", "--levels", "--branching", "--flip-probs"]


def _main_group():
    from boltzkit.cli.main import app as main_app  # registers `generate hierarchical`

    return main_app, get_command(main_app).commands["generate"]


def test_the_group_help_states_which_flags_each_generator_takes():
    from boltzkit.cli.generate import flags_of

    _, group = _main_group()
    for name, command in group.commands.items():
        flags = flags_of(command)
        own = HIERARCHICAL if name == "hierarchical" else HAMILTONIAN
        assert set(EVERY + own) <= set(flags), (name, flags)
        if name == "hierarchical":
            assert not set(HAMILTONIAN) & set(flags), flags
    text = " ".join(group.help.split())
    for flag in EVERY + HAMILTONIAN + HIERARCHICAL:
        assert flag in text, flag
    assert "'hierarchical'" in text


@pytest.mark.parametrize("args, refused", [
    (["hierarchical", "--size", "7", "--beta", "0.2"], "--size"),
    (["hierarchical", "--beta", "0.2"], "--beta"),
    (["hierarchical", "-L", "7"], "-L"),
    (["ea2d", "--beta", "0.2", "--levels", "3"], "--levels"),
])
def test_a_flag_the_generator_does_not_take_is_one_line_naming_its_flags(tmp_path, args, refused):
    main_app, group = _main_group()
    from boltzkit.cli.generate import flags_of

    out = tmp_path / "x.h5"
    result = CliRunner().invoke(main_app, ["generate", *args, "--out", str(out)])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    takes = ", ".join(flags_of(group.commands[args[0]]))
    assert lines == [f"error: generate {args[0]} takes no {refused}; its flags: {takes} "
                     f"(see root generate {args[0]} --help)"], result.output
    assert not out.exists()


def test_hierarchical_runs_with_the_flags_it_takes(tmp_path):
    main_app, _ = _main_group()
    out = tmp_path / "tree.h5"
    result = CliRunner().invoke(main_app, ["generate", "hierarchical", "--n-features", "12", "--levels", "2",
                                           "--branching", "3", "--n-samples", "18", "--seed", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out) as f:
        assert f["samples"].shape == (18, 12)
        assert sorted(f["labels"]) == ["level_1", "level_2"]
