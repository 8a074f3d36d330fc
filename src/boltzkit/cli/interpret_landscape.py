"""``boltzkit landscape``, ``boltzkit tree`` and ``boltzkit generate hierarchical``: thin commands over
:func:`boltzkit.interpret.run_interpretation.run_landscape`,
:func:`~boltzkit.interpret.run_interpretation.run_tree` and :mod:`boltzkit.synthetic.hierarchical`
(parse, call, print, plot). The API is imported inside the commands: it loads torch, which
``boltzkit --help`` does not need.

Wire them into the main application with::

    from boltzkit.cli import interpret_landscape
    interpret_landscape.register(app)                    # landscape, tree
    interpret_landscape.register_generate(generate.app)  # generate hierarchical
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from boltzkit.cli.common import MaxMemoryOption, ThreadsOption, console, lazy_progress_bar, print_json, print_table, \
    setup_torch, stdout, user_errors
from boltzkit.errors import BoltzkitError
from boltzkit.io.atomic import atomic_path
from boltzkit.io.outputs import new_output_file

__all__ = ["register", "register_generate", "landscape", "tree", "generate_hierarchical"]


def _parse_floats(text: Optional[str], what: str) -> Optional[list[float]]:
    if text is None:
        return None
    try:
        return [float(x) for x in text.replace(" ", ",").split(",") if x]
    except ValueError:
        raise BoltzkitError(f"{what}: expected comma-separated numbers, got {text!r}") from None


# ---------------------------------------------------------------------------------- landscape
@user_errors
def landscape(
    run: Path = typer.Argument(..., help="Run file of an RBM ({0,1}, ±1 or Potts visible units), or "
                                         "an archive of the rbms package"),
    data: Path = typer.Argument(..., help="Data file: binary samples, or an alignment for Potts runs"),
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (basins.h5); a PNG is "
                                                      "written next to it"),
    order: int = typer.Option(2, "--order", help="TAP order: 1 (naive mean field), 2, 3 (binary)"),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint", help="Update number (default: last)"),
    n_points: int = typer.Option(2000, "--n-points", help="Data points used (random subset; 0: all)"),
    dataset: str = typer.Option("samples", "--dataset", help="HDF5/npz dataset of the samples"),
    beta: float = typer.Option(1.0, "--beta", help="Inverse temperature"),
    damping: float = typer.Option(0.0, "--damping", help="m <- damping m_old + (1-damping) m_new "
                                  "(the starting value)"),
    auto_damping: bool = typer.Option(True, "--auto-damping/--no-auto-damping",
                                      help="Raise the damping of points whose iteration oscillates"),
    tol: float = typer.Option(1e-6, "--tol", help="Convergence: one undamped sweep moves every "
                              "magnetisation by less than this"),
    max_iter: int = typer.Option(2000, "--max-iter", help="Maximum TAP sweeps"),
    dedup_tol: float = typer.Option(1e-3, "--dedup-tol", help="Fixed points closer than this (max "
                                                               "norm) are the same"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random subset of points"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    threads: Optional[int] = ThreadsOption,
    max_memory: Optional[float] = MaxMemoryOption,
) -> None:
    """TAP fixed points of a trained RBM reached from the data: free energies and basins."""
    from boltzkit.interpret.run_interpretation import run_landscape  # heavy (torch): not for --help
    from boltzkit.report.tree_figures import landscape_figure  # heavy (matplotlib)

    setup_torch(threads, "cpu")
    with lazy_progress_bar("TAP fixed points (points)", not (quiet or as_json)) as progress:
        found = run_landscape(run, data, out, order, checkpoint, n_points, dataset, beta, damping, auto_damping,
                              tol, max_iter, dedup_tol, seed, max_memory, progress=progress)
    png, points = out.with_suffix(".png"), found.points
    _save_png(png, landscape_figure(points.one_hot() if points.alphabet else points.x.numpy(), found.landscape,
                                    points.image_shape, alphabet=points.alphabet))
    if as_json:
        print_json(dict(found.summary, files={"basins": str(out), "figure": str(png)}))
        return
    _print_landscape(run, checkpoint, out, found)
    console.print(f"wrote {out} and {png}")


def _print_landscape(run: Path, checkpoint: Optional[int], out: Path, found) -> None:
    land, summary = found.landscape, found.summary
    rows = land.table()
    print_table(f"TAP fixed points (order {summary['order']}) of {run.name}"
                + (f" @ update {checkpoint}" if checkpoint is not None else ""),
                [(str(r["rank"]), f"{r['free_energy']:.4f}", str(r["basin_size"]), f"{r['fraction']:.3f}")
                 for r in rows[:30]], ("rank", "free energy", "basin size", "fraction"), left_columns=0)
    if len(rows) > 30:
        stdout.print(f"... {len(rows) - 30} more fixed points in {out}")
    stdout.print(f"{land.n_points} points, {land.n_fixed_points} distinct fixed points, "
                 f"{summary['n_unconverged']} not converged ({found.seconds:.1f} s)")
    if summary["n_damped"]:
        stdout.print(f"{summary['n_damped']} iterations oscillated and were damped automatically (damping "
                     f"up to {summary['max_damping']:.3g}; per point in {out}:points/damping)")
    if summary["n_unconverged"]:
        stdout.print("[yellow]note:[/yellow] some iterations did not converge (basin -1): raise "
                     "--max-iter or start from --damping 0.5")


def _save_png(path: Path, fig) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})


# ---------------------------------------------------------------------------------- tree
@user_errors
def tree(
    run: Path = typer.Argument(..., help="Run file with many checkpoints (>= 50, linear spacing "
                                         "advised)"),
    data: Path = typer.Argument(..., help="Data file: binary samples, or an alignment for Potts runs"),
    out: Path = typer.Option(..., "--out", "-o", help="Newick file to write (tree.nwk); tree.png, "
                                                      "tree_levels.csv, tree_assignments.csv next to it"),
    labels: Optional[str] = typer.Option(None, "--labels", help="Labels to score against: a file "
                                         "(text/npy) or a dataset or group in the DATA HDF5 file "
                                         "(e.g. labels/level_1; 'labels' = every level)"),
    n_points: int = typer.Option(500, "--n-points", help="Data points placed in the tree (random "
                                                         "subset; 0: all)"),
    eps: float = typer.Option(1.0, "--eps", help="DBSCAN radius on the fixed points (Euclidean)"),
    order: int = typer.Option(2, "--order", help="TAP order: 1, 2, 3 (binary)"),
    variant: str = typer.Option("checkpoints", "--variant", help="checkpoints (walk the training) | "
                                                                 "annealing (final model, beta 1 -> beta-min)"),
    beta_min: float = typer.Option(0.9, "--beta-min", help="annealing: lowest inverse temperature"),
    beta_steps: int = typer.Option(100, "--beta-steps", help="annealing: number of temperatures"),
    cluster_on: str = typer.Option("visible", "--cluster-on", help="visible | hidden magnetisations"),
    tol: float = typer.Option(1e-4, "--tol", help="TAP convergence threshold"),
    max_iter: int = typer.Option(10000, "--max-iter", help="Maximum TAP sweeps per checkpoint"),
    damping: float = typer.Option(0.0, "--damping", help="Starting damping of the TAP iteration"),
    auto_damping: bool = typer.Option(True, "--auto-damping/--no-auto-damping",
                                      help="Raise the damping of points whose iteration oscillates"),
    dataset: str = typer.Option("samples", "--dataset", help="HDF5/npz dataset of the samples"),
    seed: int = typer.Option(0, "--seed", help="Seed of the random subset of points"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    threads: Optional[int] = ThreadsOption,
    max_memory: Optional[float] = MaxMemoryOption,
) -> None:
    """Hierarchical clustering from the learning dynamics (TreeRBM, Decelle-Seoane-Rosset 2023)."""
    from boltzkit.interpret.run_interpretation import run_tree  # heavy (torch): not for --help
    from boltzkit.report.tree_figures import dendrogram_figure

    setup_torch(threads, "cpu")
    with lazy_progress_bar(f"tree ({variant})", not (quiet or as_json)) as progress:
        found = run_tree(run, data, out, labels, n_points, eps, order, variant, beta_min, beta_steps,
                         cluster_on, tol, max_iter, damping, auto_damping, dataset, seed, progress,
                         max_memory)
    summary = found.summary
    png = out.with_suffix(".png")
    _save_png(png, dendrogram_figure(found.tree, found.label_sets or None))
    summary["files"]["figure"] = str(png)
    if as_json:
        print_json(summary)
        return
    _print_tree(found.tree, found.label_sets, summary)
    console.print(f"wrote {', '.join(summary['files'].values())}")


def _print_tree(result, label_sets, summary) -> None:
    families = list(label_sets) if label_sets else []
    several = len(families) > 1
    columns = ["level", "beta" if result.variant == "annealing" else "update", "clusters"]
    # several families: ARI only here (purity in the CSV and --json)
    columns += [f"ARI {name}" for name in families] if several else ["ARI", "purity"] * len(families)
    rows = []
    for lv in summary["levels"]:
        cells = [str(lv["level"]), f"{lv['age']:g}", str(lv["n_clusters"])]
        if several:
            cells += [f"{lv['ari'][name]:.3f}" for name in families]
        elif families:
            cells += [f"{lv['ari']:.3f}", f"{lv['purity']:.3f}"]
        rows.append(cells)
    print_table(f"TreeRBM levels ({result.n_points} points, {summary['seconds']:.1f} s)", rows, columns,
                left_columns=0)
    if several:
        print_table("Agreement with the given levels (best recovered level per label family)",
                    [(a["labels"], str(a["n_true"]), str(a["best_level"]), str(a["n_clusters"]),
                      f"{a['ari']:.3f}", f"{a['purity']:.3f}") for a in summary["agreement"]],
                    ("labels", "classes", "best level", "clusters", "ARI", "purity"), left_columns=0)
        stdout.print(f"triplet agreement: {summary['triplet_agreement']:.3f}")
    if summary["n_damped"]:
        stdout.print(f"{summary['n_damped']} TAP iterations oscillated and were damped "
                     "automatically")
    if summary["n_unconverged"]:
        stdout.print(f"note: {summary['n_unconverged']} TAP iterations hit --max-iter (their state "
                     "at that point was used)")


# ---------------------------------------------------------------------------------- generator
@user_errors
def generate_hierarchical(
    out: Path = typer.Option(..., "--out", "-o", help="HDF5 file to write (samples + labels/level_*)"),
    levels: int = typer.Option(3, "--levels", help="Depth of the tree"),
    branching: int = typer.Option(2, "--branching", help="Children per node"),
    n_features: int = typer.Option(100, "--n-features", help="Sequence length N"),
    flip_probs: Optional[str] = typer.Option(None, "--flip-probs", help="levels+1 comma-separated "
                                             "flip probabilities: per level, then the sample noise"),
    n_samples: int = typer.Option(1000, "--n-samples", "-n", help="Number of samples"),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --out file"),
) -> None:
    """Binary sequences evolved along a known tree (random root, branching mutations), with the
    true label of every sample at every level."""
    from boltzkit.synthetic.hierarchical import hierarchical  # numpy: not for --help

    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise BoltzkitError(f"--out {out}: expected an .h5 / .hdf5 file name")
    flips = _parse_floats(flip_probs, "--flip-probs")
    new_output_file(out, overwrite)
    data = hierarchical(levels, branching, n_features, flips, n_samples, seed)
    data.save(out)
    print_table("boltzkit generate hierarchical",
                [("samples x features", f"{n_samples} x {n_features}"),
                 ("levels x branching", f"{levels} x {branching} ({branching**levels} leaves)"),
                 ("flip probabilities", ", ".join(f"{p:g}" for p in data.flip_probs)),
                 ("labels", ", ".join(f"labels/level_{l + 1}" for l in range(levels))),
                 ("written", str(out))], show_header=False)


def register(app: typer.Typer) -> None:
    """Add the commands ``landscape`` and ``tree`` to the main application."""
    app.command("landscape")(landscape)
    app.command("tree")(tree)


def register_generate(generate_app: typer.Typer) -> None:
    """Add the generator subcommand ``hierarchical`` to ``boltzkit generate``."""
    generate_app.command("hierarchical")(generate_hierarchical)
