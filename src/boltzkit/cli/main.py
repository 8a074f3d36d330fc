"""The ``boltzkit`` command: thin commands over the Python API (parse, call, print).

Each command imports the API it calls inside its function: the API pulls in torch (about a second
of CPU), which ``boltzkit --help`` and argument errors do without.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from boltzkit.cli import family_flags
from boltzkit.cli.common import DeviceOption, MaxMemoryOption, OneLineUsageErrors, ThreadsOption, console, print_json, print_table, progress_bar, \
    setup_torch, stdout, user_errors
from boltzkit.models.families import DEFAULT_FAMILY
from boltzkit.models.registry import families

app = typer.Typer(add_completion=False, no_args_is_help=True, cls=OneLineUsageErrors,
                  help="Energy-based models: train, sample, evaluate and interpret them.")


LabelsColumnOption = typer.Option(
    None, "--labels-column", help="Tables (CSV/TSV) for Potts and real-valued models: the column "
    "kept as the rows' labels (its name, or its 0-based position), left out of the model")
CheckOption = typer.Option(True, "--check/--no-check",
                           help="Warn when the final model is no better than the independent-site "
                                "model on the held-out rows (a quick log Z, stored in the run)")
TargetPearsonOption = typer.Option(None, "--target-pearson",
                                   help="potts-bm/ising-bm: stop when the chains' C_ij Pearson with the "
                                        "data reaches this (e.g. 0.95)")
TrainDataArgument = typer.Argument(..., help="Data file (.npy/.npz/.txt/.h5/IDX images/.hapt; an "
                                   "alignment FASTA/A2M/A3M/Stockholm or a table of categorical "
                                   "columns CSV/TSV for Potts models; real values "
                                   ".npy/.npz/.csv/.txt/.h5 or grey-level images for gaussian-rbm)")
TrainSamplerOption = typer.Option("gibbs", "--sampler",
                                  help="The negative phase's chains: gibbs (the model's own step) | pt "
                                       "(parallel tempering) | ptt (trajectory tempering over models "
                                       "frozen along the run) | a step variant of the family (e.g. "
                                       "gaussian-rbm's gibbs-langevin)")
TrackLogZOption = typer.Option(0, "--track-log-z", help="Follow log Z along training by trajectory AIS "
                               "with this many chains, stored at every checkpoint (0: off)")
PretrainOption = typer.Option("none", "--pretrain", help="none | low-rank (restricted Coulomb machine "
                              "on the data's first --pretrain-dims principal directions)")
PretrainDimsOption = typer.Option(None, "--pretrain-dims", help="low-rank pre-training: principal "
                                  "directions, 1 to 4 (default 2)")
PseudocountOption = typer.Option(None, "--pseudocount",
                                 help="potts-bm, full batch (bmDCA): pseudocount of the data "
                                      "frequencies (default 1/M_eff)")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=family_flags.epilog())
@user_errors
def train(
    ctx: typer.Context,
    data: Path = TrainDataArgument,
    out: Path = typer.Option(..., "--out", "-o", help="Run file (HDF5) to write"),
    model: str = typer.Option(DEFAULT_FAMILY.kind, "--model",
                              help=" | ".join(f"{f.kind} ({f.summary})" for f in families())),
    hidden: int = typer.Option(100, "--hidden", help="Number of hidden units"),
    updates: int = typer.Option(10000, "--updates", help="Number of parameter updates"),
    batch_size: int = typer.Option(500, "--batch-size"),
    chains: int = typer.Option(500, "--chains", help="Persistent / Rdm chains"),
    gibbs_steps: int = typer.Option(10, "--gibbs-steps", help="MCMC steps per update (k)"),
    method: str = typer.Option("pcd", "--method",
                               help="pcd | cd | rdm | exact | plm (pseudo-likelihood: " + ", ".join(
                                   f.kind for f in families() if "plm" in f.methods) + ")"),
    lr: float = typer.Option(0.01, "--lr", help="Learning rate (of the first update with a schedule)"),
    lr_schedule: str = typer.Option("constant", "--lr-schedule",
                                    help="constant | geometric | cosine: decay from --lr to --lr-final "
                                         "over the --updates (pcd/cd/rdm/exact)"),
    lr_final: Optional[float] = typer.Option(None, "--lr-final",
                                             help="Learning rate of the last update (with --lr-schedule "
                                                  "geometric or cosine)"),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd | adam"),
    centered: bool = typer.Option(True, "--centered/--no-centered", help="Centered gradient"),
    l1: float = typer.Option(0.0, "--l1"),
    l2: float = typer.Option(0.0, "--l2"),
    checkpoints: int = typer.Option(20, "--checkpoints", help="Models saved along training"),
    spacing: str = typer.Option("log", "--spacing", help="Checkpoint spacing: log | linear"),
    save_every: int = typer.Option(0, "--save-every", help="Also save the resume state every N updates"),
    test_fraction: float = typer.Option(0.0, "--test-fraction", help="Hold out this fraction as test set"),
    dataset: str = typer.Option("samples", "--dataset", help="HDF5/npz dataset name"),
    labels: Optional[Path] = typer.Option(None, "--labels", help="Binary data: a labels file (one "
                                          "per line, .npy or IDX), stored with the run for reports"),
    labels_column: Optional[str] = LabelsColumnOption,
    binarize: str = typer.Option("threshold", "--binarize", help="threshold | stochastic | none"),
    alphabet: str = typer.Option("auto", "--alphabet",
                                 help="Alignments: auto | protein | rna | dna | a custom string of "
                                      "letters (the first letter is the gap state, index 0)"),
    reweight: bool = typer.Option(True, "--reweight/--no-reweight",
                                  help="Alignments: sequence reweighting by identity"),
    identity: float = typer.Option(0.8, "--threshold",
                                   help="Alignments: identity threshold of the reweighting"),
    lambda_h: float = typer.Option(0.01, "--lambda-h", help="plm: L2 on the fields"),
    lambda_j: float = typer.Option(0.01, "--lambda-j", help="plm: L2 on the couplings"),
    target_pearson: Optional[float] = TargetPearsonOption,
    pseudocount: Optional[float] = PseudocountOption,
    seed: int = typer.Option(0, "--seed"),
    sampler: str = TrainSamplerOption,
    track_log_z: int = TrackLogZOption,
    pretrain: str = PretrainOption,
    pretrain_dims: Optional[int] = PretrainDimsOption,
    device: str = DeviceOption,
    dtype: str = typer.Option("float32", "--dtype", help="float32 | float64: the parameters and chains"),
    threads: Optional[int] = ThreadsOption,
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last saved state"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing file at --out with a new run"),
    max_memory: Optional[float] = typer.Option(None, "--max-memory",
                                               help="GiB the run may use (default: the memory available)"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    check: bool = CheckOption,
) -> None:
    """Train a model by maximum likelihood (PCD/CD/Rdm) or pseudo-likelihood (plm) and save
    checkpoints into one run file."""
    from boltzkit.data.specs import make_spec
    from boltzkit.models.registry import family
    from boltzkit.training.config import TrainingConfig
    from boltzkit.training.run import train_run

    setup_torch(threads, device)
    ranks, device = _join_group(device)
    config = TrainingConfig(method=method, n_updates=updates, batch_size=batch_size, n_chains=chains,
                            gibbs_steps=gibbs_steps, learning_rate=lr, lr_schedule=lr_schedule,
                            lr_final=lr_final, optimizer=optimizer, centered=centered, l1=l1, l2=l2,
                            n_checkpoints=checkpoints, spacing=spacing, save_every=save_every, seed=seed,
                            device=device, dtype=dtype, sampler=sampler, track_log_z=track_log_z,
                            pretrain=pretrain, pretrain_dims=pretrain_dims)
    entry = family(model)
    spec = make_spec(entry.data_kind, data.resolve(), test_fraction, seed, dataset=dataset,
                     binarize=binarize, labels_path=None if labels is None else labels.resolve(),
                     alphabet=alphabet, reweight=reweight, threshold=identity,
                     labels_column=_column(labels_column))
    family_typed = family_flags.parse(ctx.args)  # the families' own flags (the registry's)
    given = {**_typed_flags(ctx), **family_typed} if resume else None
    # a resumed run has its family's options (its flags typed again are compared with them)
    options = None if resume else {"n_hidden": hidden} if "n_hidden" in entry.options else {}
    if not resume:
        options.update(family_flags.options_for(entry, family_typed))
    with progress_bar("training", config.n_updates, not quiet and ranks.writes) as advance, \
            _group(ranks):
        train_run(spec, out, model, None, config, resume, advance, given=given, options=options, lambda_h=lambda_h,
                  lambda_J=lambda_j, pseudocount=pseudocount, target_pearson=target_pearson, overwrite=overwrite,
                  max_memory=max_memory)
        if ranks.writes:  # rank 0 reports for the process group
            _saved(out, check)


def _saved(out: Path, check: bool) -> None:
    """Say what training saved, and warn when the model learned nothing (``--check``)."""
    from boltzkit.evaluation.run_evaluation import learning_check
    from boltzkit.io.trajectory import checkpoint_updates

    console.print(f"saved {len(checkpoint_updates(out))} checkpoints to {out}")
    warning = learning_check(out) if check else None
    if warning:
        console.print(warning, markup=False, highlight=False, soft_wrap=True)


def _join_group(device: str):
    """(ranks, device) of this process: the process group ``torchrun`` describes in the
    environment (:func:`boltzkit.distributed.init_from_environment`)."""
    from boltzkit import distributed

    return distributed.init_from_environment(device)


@contextmanager
def _group(ranks):
    """Leave the process group at the end of the command: after the others (a barrier) when it
    went well, at once when it failed (the others may be gone). A rank other than 0 that finished
    well then exits at once (exit status 0, no interpreter teardown)."""
    from boltzkit import distributed

    try:
        yield
    except BaseException:
        distributed.leave()
        raise
    distributed.barrier(ranks, "finishing the run")
    distributed.leave(in_order=True)
    if ranks.parallel and ranks.rank:
        # this rank has said it left and has nothing more to do; rank 0, the store's host, may be
        # gone already, and gloo's objects, destroyed at interpreter exit, then abort the process
        # ("terminate called without an active exception": twice in CI's two-process tests, after
        # the in-order leave): skip that teardown (its output flushed first)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _column(value: Optional[str]) -> str | int | None:
    """``--labels-column``: a whole number is a 0-based position, anything else a column name."""
    return int(value) if value is not None and value.strip().isdigit() else value


def _typed_flags(ctx: typer.Context) -> dict[str, object]:
    """The options the user typed (not their defaults), keyed by flag ("DATA" for the argument),
    with paths resolved: what ``--resume`` compares with the stored run."""
    typed = {}
    for param in ctx.command.params:
        source = ctx.get_parameter_source(param.name)  # click's ParameterSource (typer may vendor it)
        if source is None or source.name != "COMMANDLINE":
            continue
        value = ctx.params[param.name]
        flag = "DATA" if param.param_type_name == "argument" else max(param.opts, key=len)
        typed[flag] = str(Path(value).resolve()) if isinstance(value, Path) else value
    return typed


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
             epilog=family_flags.epilog())
@user_errors
def sample(
    ctx: typer.Context,
    run: Path = typer.Argument(..., help="Run file (or the model file of rbms, adabmDCA or plmc)"),
    out: Path = typer.Option(..., "--out", "-o",
                             help="Output: .npy, .txt or .png (image grid); .fasta/.fa(.gz) for alignments"),
    n: int = typer.Option(100, "--n", help="Number of samples"),
    gibbs_steps: int = typer.Option(1000, "--gibbs-steps", help="MCMC steps from random starts"),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint", help="Update number (default: last)"),
    sampler: Optional[str] = typer.Option(
        None, "--sampler", help="gibbs (every model's own step) | pt (parallel tempering on an "
        "adaptive ladder from the data's independent-site model) | ptt (parallel trajectory "
        "tempering over the run's checkpoints) | a variant of the model's step "
        "(gaussian-rbm: gibbs-langevin | gibbs-langevin-unadjusted, with the family's sampler "
        "flags below); default: the run's"),
    seed: int = typer.Option(0, "--seed"),
    device: str = DeviceOption,
    threads: Optional[int] = ThreadsOption,
    max_memory: Optional[float] = MaxMemoryOption,
) -> None:
    """Generate new samples from a trained model."""
    from boltzkit.report.samples import write_run_samples

    setup_torch(threads, device)
    settings = family_flags.by_option(family_flags.parse(ctx.args))  # e.g. --langevin-steps
    written = write_run_samples(run, out, n, gibbs_steps, checkpoint, seed, device, max_memory,
                                sampler=sampler, sampler_settings=settings)
    console.print(f"wrote {written} to {out}")


@app.command()
@user_errors
def evaluate(
    run: Path = typer.Argument(..., help="Run file (or the model file of rbms, adabmDCA or plmc: then give DATA)"),
    data: Optional[Path] = typer.Argument(None, help="Data to score (default: the run's training "
                                                     "data); an alignment for Potts runs"),
    test: Optional[Path] = typer.Option(None, "--test", help="Held-out data"),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint"),
    log_z_method: str = typer.Option("auto", "--log-z", help="auto | exact | ais | trajectory (followed "
                                     "in training, train --track-log-z; the --ais-* settings unused) | "
                                     "ptt (trajectory tempering over the checkpoints: --ais-chains "
                                     "chains, --ais-steps sweeps, --ais-runs groups for the error)"),
    ais_chains: int = typer.Option(1000, "--ais-chains"),
    ais_steps: int = typer.Option(5000, "--ais-steps"),
    ais_runs: int = typer.Option(10, "--ais-runs", help="Independent AIS runs for the error bar"),
    moment_samples: int = typer.Option(2000, "--moment-samples", help="Model samples for the moments"),
    moment_steps: int = typer.Option(1000, "--moment-steps", help="Gibbs steps for those samples"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    device: str = DeviceOption,
    threads: Optional[int] = ThreadsOption,
    max_memory: Optional[float] = MaxMemoryOption,
) -> None:
    """log Z (exact or AIS with an error bar), train/test log-likelihood, and data-vs-model moments
    (for Potts runs: one-site frequencies and C_ij(a,b) of the reweighted alignment vs samples)."""
    from boltzkit.evaluation.run_evaluation import evaluate_run

    setup_torch(threads, device)
    ranks, device = _join_group(device)  # torchrun: the chains of AIS and of the moments split
    with progress_bar("evaluating", 100, not as_json and ranks.writes) as advance, _group(ranks):
        result = evaluate_run(run, data, test, checkpoint, log_z_method, ais_chains, ais_steps,
                              ais_runs, moment_samples, moment_steps, seed, device, advance, max_memory)
    if not ranks.writes:
        return
    if as_json:
        print_json(result)
        return
    if result["log_z"] is None:
        rows = [("log Z", f"not computed: {result.get('log_z_unavailable', '')}")]
    else:
        err = f" ± {result['log_z_error']:.4f}" if result["log_z_error"] else ""
        rows = [(f"log Z ({result['log_z_method']})", f"{result['log_z']:.4f}{err}")]
    scores = [("", result.get("log_likelihood") or {})]
    scores += [(f"{name} ", value) for name, value in (result.get("baseline_log_likelihood") or {}).items()]
    for prefix, by_split in scores:
        rows += [(f"{prefix}log-likelihood ({split})", f"{value:.4f}")
                 for split, value in by_split.items() if value is not None]
    rows += [("moments Pearson r (means)", f"{result['moments_pearson']['means']:.4f}"),
             ("moments Pearson r (C_ij)", f"{result['moments_pearson']['correlations']:.4f}"),
             ("moments slope (C_ij, model on data)", f"{result['moments_slope']['correlations']:.4f}")]
    print_table(f"{run}" + (f" @ update {result['checkpoint']}" if result.get("checkpoint") else ""), rows)
    if result.get("moments_convention"):
        stdout.print(f"moments: {result['moments_convention']}")


@app.command()
@user_errors
def mixing(
    run: Path = typer.Argument(..., help="Run file"),
    data: Optional[Path] = typer.Argument(None, help="Data for the principal directions and the clusters "
                                                     "(default: the run's stored training rows)"),
    sampler: str = typer.Option("gibbs", "--sampler", help="gibbs | pt | ptt"),
    steps: int = typer.Option(10000, "--steps", help="MCMC steps"),
    chains: int = typer.Option(100, "--chains", help="Chains (gibbs: started at training rows)"),
    clusters: Optional[int] = typer.Option(None, "--clusters",
                                           help="k-means clusters of the data (default: its labels, else 2)"),
    figure: Optional[Path] = typer.Option(None, "--figure", help="PNG: autocorrelation curves and PC1 traces"),
    seed: int = typer.Option(0, "--seed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    device: str = DeviceOption,
    threads: Optional[int] = ThreadsOption,
) -> None:
    """How well a sampler mixes on the run's last model: integrated autocorrelation times (visible
    configuration, PC1, PC2), jumps between the data's clusters, exchange acceptance of tempering."""
    from boltzkit.report.mixing import run_mixing

    setup_torch(threads, device)
    result = run_mixing(run, data, sampler, steps, chains, clusters, seed, figure, device)
    if as_json:
        print_json(result)
        return
    rows = [(f"tau_int {name} (window)", f"{v['tau']:.1f} steps ({v['window']})")
            for name, v in result["tau_int"].items()]
    rows += [("jumps per chain", f"{result['jumps']['per_chain']:.2f} between {result['jumps']['clusters']} "
                                 "clusters"),
             ("replicas", str(result["replicas"]))]
    if result["acceptance"] is not None:
        rows.append(("exchange acceptance", " ".join(f"{a:.2f}" for a in result["acceptance"])))
    print_table(f"{run}: {sampler}, {result['steps']} steps x {result['chains']} chains", rows)


@app.command()
@user_errors
def report(
    run: Path = typer.Argument(..., help="Run file"),
    out: Path = typer.Option(..., "--out", "-o", help="HTML file to write"),
    curve_points: int = typer.Option(10, "--curve-points", help="Checkpoints on the likelihood curve"),
    ais_chains: int = typer.Option(1000, "--ais-chains",
                                   help="AIS of the last model, as boltzkit evaluate (the same numbers)"),
    ais_steps: int = typer.Option(5000, "--ais-steps", help="AIS of the last model, as boltzkit evaluate"),
    ais_runs: int = typer.Option(10, "--ais-runs", help="AIS groups for the error bar, as boltzkit evaluate"),
    curve_ais_chains: int = typer.Option(200, "--curve-ais-chains", help="AIS of the earlier checkpoints"),
    curve_ais_steps: int = typer.Option(1000, "--curve-ais-steps", help="AIS of the earlier checkpoints"),
    n_samples: int = typer.Option(500, "--samples", help="Generated samples shown / projected"),
    gibbs_steps: int = typer.Option(1000, "--gibbs-steps"),
    landscape: bool = typer.Option(True, "--landscape/--no-landscape", help="TAP landscape section"),
    tree: bool = typer.Option(True, "--tree/--no-tree", help="TreeRBM section (walks every checkpoint)"),
    tree_points: int = typer.Option(300, "--tree-points", help="Data rows placed in the tree"),
    couplings: bool = typer.Option(True, "--couplings/--no-couplings",
                                   help="Effective couplings section (scatter vs the truth of generated data)"),
    struct: Optional[Path] = typer.Option(None, "--struct",
                                          help="Potts runs: distance table *_struct.dat for the contact map"),
    min_separation: int = typer.Option(5, "--min-separation", help="Contact map: pairs j - i >= S"),
    distance_cutoff: float = typer.Option(8.0, "--distance-cutoff",
                                          help="Contact map: contact when distance < cutoff (A)"),
    seed: int = typer.Option(0, "--seed"),
    device: str = DeviceOption,
    threads: Optional[int] = ThreadsOption,
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
) -> None:
    """Write one self-contained HTML report (figures embedded) for a run. Potts runs get sequence
    logos, the C_ij(a,b) scatter of samples vs data and, with --struct, the contact map."""
    from boltzkit.report.html import ReportOptions, write_report

    setup_torch(threads, device)
    options = ReportOptions(curve_points=curve_points, ais_chains=ais_chains, ais_steps=ais_steps,
                            ais_runs=ais_runs, curve_ais_chains=curve_ais_chains,
                            curve_ais_steps=curve_ais_steps, n_samples=n_samples, gibbs_steps=gibbs_steps, seed=seed, device=device,
                            landscape=landscape, tree=tree, tree_points=tree_points, couplings=couplings,
                            struct=None if struct is None else str(struct),
                            min_separation=min_separation, distance_cutoff=distance_cutoff)
    with progress_bar("report", 100, not quiet) as advance:
        write_report(run, out, options, progress=advance)
    console.print(f"wrote {out}")


@app.command()
@user_errors
def demo(
    out: Path = typer.Option(Path("runs/demo"), "--out", "-o", help="Folder for the run and report"),
    hidden: int = typer.Option(128, "--hidden"),
    updates: int = typer.Option(2000, "--updates"),
    threads: Optional[int] = ThreadsOption,
    device: str = DeviceOption,
) -> None:
    """The embedded default: PCD-trained RBM on bundled binarised MNIST, evaluated, with a report."""
    from boltzkit.cli.demo import run_demo

    setup_torch(threads, device)
    run_demo(out, hidden=hidden, updates=updates, device=device)


def _register_subcommands() -> None:
    from boltzkit.cli import couplings, generate, interpret_landscape, msa

    couplings.register(app)  # couplings
    msa.register(app)  # msa-info, contacts
    interpret_landscape.register(app)  # landscape, tree
    interpret_landscape.register_generate(generate.app)  # generate hierarchical
    app.add_typer(generate.app, name="generate")


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()

