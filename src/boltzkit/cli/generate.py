"""``boltzkit generate MODEL``: equilibrium samples of a known Hamiltonian, written with its ground truth.

Thin layer over :mod:`boltzkit.synthetic.generators`: parse, call, print what the sampler measured.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from boltzkit.cli.common import DeviceOption, ThreadsOption, lazy_progress_bar, print_table, setup_torch, \
    stdout, user_errors
from boltzkit.errors import BoltzkitError
from boltzkit.io.outputs import new_output_file


class GeneratorGroup(typer.core.TyperGroup):
    """The ``boltzkit generate`` group: the generators do not all take the same flags (``hierarchical``
    has no Hamiltonian, hence no --size, --beta or Monte Carlo flags), so a flag the chosen generator
    does not take names the flags it does take, instead of click's guess at a spelling (the main
    application's group prints it as one line, :class:`~boltzkit.cli.common.OneLineUsageErrors`)."""

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as e:
            sub = getattr(e, "ctx", None)
            flag = getattr(e, "option_name", None)  # click's NoSuchOption (typer vendors click)
            if flag is None or sub is None or sub.command is self or getattr(e, "exit_code", None) != 2:
                raise
            e.message = f"generate {sub.info_name} takes no {flag}; its flags: {', '.join(flags_of(sub.command))}"
            e.possibilities = None
            raise


def flags_of(command: Any) -> list[str]:
    """The long flags of a click command, in --help order (--help left out)."""
    opts = [p.opts for p in command.params if getattr(p, "param_type_name", "") == "option"]
    return [max(o, key=len) for o in opts if "--help" not in o]


app = typer.Typer(add_completion=False, no_args_is_help=True, cls=GeneratorGroup,
                  help="Equilibrium samples of known Hamiltonians, written to HDF5 with their ground truth "
                       "(dataset 'samples', group 'truth/', unscaled couplings with a 'beta' attribute). "
                       "Every generator takes --out, --n-samples and --seed; those of a Hamiltonian also "
                       "--size, --beta and the Monte Carlo flags (--chains, --sweeps-thermalize, "
                       "--sweeps-between, --algorithm, --device, --threads, --quiet). 'hierarchical' (a "
                       "mutation process along a tree: no energy, no temperature) takes --n-features, "
                       "--levels, --branching and --flip-probs instead.")

# ---------------------------------------------------------------------- shared options
Out = Annotated[Path, typer.Option("--out", "-o", help="HDF5 file to write (samples + truth)")]
NSamples = Annotated[int, typer.Option("--n-samples", "-n", help="Number of samples")]
Beta = Annotated[float, typer.Option("--beta", help="Inverse temperature")]
Seed = Annotated[int, typer.Option("--seed", help="Seed of the disorder and Monte Carlo streams")]
Chains = Annotated[int, typer.Option("--chains", help="Parallel chains (each gives n-samples/chains samples)")]
Thermalize = Annotated[int, typer.Option("--sweeps-thermalize", help="Sweeps before the first sample")]
Between = Annotated[int, typer.Option("--sweeps-between", help="Sweeps between two samples of a chain")]
Algorithm = Annotated[str, typer.Option("--algorithm", help="metropolis | heat-bath")]
Open = Annotated[bool, typer.Option("--open", help="Open boundaries (default periodic)")]
Coupling = Annotated[float, typer.Option("--coupling", help="Pair coupling J (unscaled)")]
Field = Annotated[float, typer.Option("--field", help="Uniform field h (unscaled)")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing --out file")]


def _option(name: str, annotation: Any, default: Any = inspect.Parameter.empty) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


# The options of every generator, before and after the command's own (in --help in this order).
_FIRST = (_option("out", Out), _option("beta", Beta))
_LAST = (_option("seed", Seed, 0), _option("chains", Chains, 100),
         _option("sweeps_thermalize", Thermalize, 1000), _option("sweeps_between", Between, 10),
         _option("algorithm", Algorithm, "metropolis"), _option("device", str, DeviceOption),
         _option("threads", Optional[int], ThreadsOption), _option("quiet", Quiet, False), _option("overwrite", Overwrite, False))


def _generator(name: str, size_default: int, size_help: str = "Linear size L"):
    """Register ``boltzkit generate NAME`` from a function of the command's own options only.

    The decorated function only declares the model's options (typer-annotated, with defaults, named
    as the keywords of ``GENERATORS[name]``, except ``open_boundaries`` which becomes
    ``periodic=not open_boundaries``); its docstring is the command's help. The command gets the
    shared options around them: --out, --beta, --size (``size_default``, ``size_help``),
    --n-samples, then the model's, then --seed ... --quiet (:data:`_LAST`), and runs :func:`_run`.
    """
    def register(model_options: Callable[..., None]) -> Callable[..., None]:
        own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
               for p in inspect.signature(model_options, eval_str=True).parameters.values()]

        def command(*, out, n_samples, chains, device, threads, quiet, overwrite, **options):
            if "open_boundaries" in options:
                options["periodic"] = not options.pop("open_boundaries")
            _run(name, out, n_samples, chains, device, threads, quiet, overwrite, options)

        size_option = Annotated[int, typer.Option("--size", "-L", help=size_help)]
        command.__signature__ = inspect.Signature(
            [*_FIRST, _option("size", size_option, size_default), _option("n_samples", NSamples, 10000), *own,
             *_LAST])
        command.__name__ = command.__qualname__ = model_options.__name__
        command.__doc__ = model_options.__doc__
        app.command(name)(user_errors(command))
        return model_options

    return register


def _run(name: str, out: Path, n_samples: int, chains: int, device: str, threads: Optional[int], quiet: bool,
         overwrite: bool, options: dict[str, Any]) -> None:
    """Check the flags, sample ``GENERATORS[name]`` with the keywords ``options`` (size, beta, the
    model's, seed, sweeps, algorithm), write and report."""
    from boltzkit.synthetic.generators import GENERATORS  # torch: not for --help

    setup_torch(threads, device)
    if n_samples < 1 or chains < 1:
        raise BoltzkitError("--n-samples and --chains must be positive")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise BoltzkitError(f"--out {out}: expected an .h5 / .hdf5 file name")
    new_output_file(out, overwrite)
    with lazy_progress_bar(f"{name} sweeps", not quiet) as advance:
        data = GENERATORS[name](n_samples=n_samples, chains=chains, device=device, callback=advance, **options)
    data.save(out)
    _report(data, out)


def _report(data, out: Path) -> None:
    d = data.diagnostics()
    print_table(f"boltzkit generate {data.name}", [
        ("sites N", str(data.hamiltonian.n_sites)),
        ("samples", str(data.samples.shape[0])),
        ("beta", f"{data.beta:g}"),
        ("convention", data.convention),
        ("algorithm", d["algorithm"]),
        ("chains x records", f"{d['n_chains']} x {d['n_records']}"),
        ("sweeps (thermalize / between)", f"{d['sweeps_thermalize']} / {d['sweeps_between']}"),
        ("colours per sweep", str(d["n_colours"])),
        ("acceptance rate", f"{d['acceptance_rate']:.4f}"),
        ("tau energy (records)", f"{d['tau_energy']:.2f}"),
        ("tau magnetisation (records)", f"{d['tau_magnetisation']:.2f}"),
        ("written", str(out)),
    ], show_header=False)
    worst = max((t for t in (d["tau_energy"], d["tau_magnetisation"]) if t == t), default=float("nan"))
    if worst == worst and worst > 2.0:
        stdout.print(f"[yellow]warning:[/yellow] successive samples of a chain are correlated "
                     f"(tau = {worst:.1f} records); raise --sweeps-between or use more --chains")
    elif worst != worst:
        stdout.print("note: too few samples per chain to estimate autocorrelation times")


# ---------------------------------------------------------------------- commands
# Each function declares the command's own options (see _generator).
@_generator("ising1d", 50, "Number of spins L")
def ising1d(coupling: Coupling = 1.0, field: Field = 0.0, open_boundaries: Open = False) -> None:
    """1D Ising chain: E = -J sum s_i s_i+1 - h sum s_i (samples ±1)."""


@_generator("ising2d", 7)
def ising2d(coupling: Coupling = 1.0, field: Field = 0.0, open_boundaries: Open = False) -> None:
    """2D Ising model on an L x L square lattice (samples ±1, sites row-major)."""


@_generator("ea2d", 7)
def ea2d(coupling: Coupling = 1.0,
         ferromagnetic_fraction: Annotated[float, typer.Option(
             "--ferromagnetic-fraction", help="Probability of a +J bond")] = 0.5,
         field: Field = 0.0, open_boundaries: Open = False) -> None:
    """2D Edwards-Anderson ±J spin glass on an L x L lattice (samples ±1)."""


@_generator("ising-kbody", 50, "Number of spins L")
def ising_kbody(order: Annotated[int, typer.Option("--order", help="Order k of the added interactions")] = 3,
                kbody_coupling: Annotated[float, typer.Option("--kbody-coupling", help="Coupling of each k-body term")] = 1.0,
                n_terms: Annotated[Optional[int], typer.Option(
                    "--n-terms", help="Random k-subsets (default: consecutive k-tuples of the chain)")] = None,
                coupling: Coupling = 1.0, field: Field = 0.0, open_boundaries: Open = False) -> None:
    """Ising chain plus k-body interactions on consecutive or random hyperedges (samples ±1)."""


@_generator("lattice-gas", 50)
def lattice_gas(coupling: Annotated[float, typer.Option("--coupling", help="Pair coupling K")] = 1.0,
                chemical_potential: Annotated[float, typer.Option("--chemical-potential", "--mu",
                                                                  help="Chemical potential mu")] = 0.0,
                dimension: Annotated[int, typer.Option("--dimension", help="1 (chain) or 2 (square lattice)")] = 1,
                open_boundaries: Open = False) -> None:
    """Lattice gas: E = -K sum n_i n_j - mu sum n_i (samples 0/1, truth in the 0/1 parametrisation)."""


@_generator("blume-capel", 51, "Number of spins L")
def blume_capel(coupling: Coupling = 1.0,
                three_body: Annotated[float, typer.Option("--three-body", help="Consecutive 3-body coupling")] = 0.0,
                crystal_field: Annotated[float, typer.Option("--crystal-field", help="D of + D sum s_i^2")] = 0.0,
                field: Field = 0.0, open_boundaries: Open = False) -> None:
    """Blume-Capel chain, spins -1/0/+1 stored as states 0 (-1), 1 (+1), 2 (0)."""


@_generator("potts", 50, "Number of sites L")
def potts(q: Annotated[int, typer.Option("--q", help="Number of Potts states")] = 3, coupling: Coupling = 1.0,
          field: Annotated[float, typer.Option("--field", help="Field on state 0")] = 0.0,
          open_boundaries: Open = False) -> None:
    """q-state Potts chain: E = -J sum delta(x_i, x_i+1) - h sum delta(x_i, 0) (states 0..q-1)."""


@_generator("higher-order", 50, "Number of spins N")
def higher_order(gamma: Annotated[float, typer.Option("--gamma", help="Higher-order strength (terms scale as sqrt(gamma))")] = 0.1,
                 order: Annotated[int, typer.Option("--order", help="Order of the random terms")] = 3,
                 n_terms: Annotated[Optional[int], typer.Option("--n-terms", help="Number of random terms (default N)")] = None,
                 coupling: Annotated[float, typer.Option("--coupling", help="Std of the Gaussian pair couplings")] = 1.0,
                 pair_topology: Annotated[str, typer.Option("--pair-topology", help="random | chain | full")] = "random",
                 pair_degree: Annotated[float, typer.Option("--pair-degree", help="Mean degree of the random pair graph")] = 3.0,
                 field: Field = 0.0) -> None:
    """Pairwise model plus random higher-order terms of strength sqrt(gamma) (Feinauer-Lucibello task)."""
