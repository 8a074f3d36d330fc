"""``boltzkit couplings RUN.h5``: the interaction network a trained model has learned.

Thin layer over :mod:`boltzkit.interpret`: load the model, expand its energy into fields and
couplings (:func:`~boltzkit.interpret.energy_couplings.model_couplings`), compare them with a
reference when one is given, write COUPLINGS.h5 and the figures, print.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import typer

from boltzkit.cli.common import ThreadsOption, console, print_json, setup_torch, stdout, user_errors
from boltzkit.errors import BoltzkitError

METHODS = ("exact", "gaussian", "sampling", "cossu")


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _figures(out: Path, couplings, truth) -> list[str]:
    """Coupling-matrix heat map, and inferred-vs-true scatter plots per order when a truth is given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    written = []
    stem = out.with_suffix("")
    J = couplings.pair_matrix().numpy()
    vmax = float(abs(J).max()) or 1.0
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    im = ax.imshow(J, cmap="RdBu_r", vmin=-vmax, vmax=vmax)
    fig.colorbar(im, ax=ax, shrink=0.85)
    ax.set_title(f"pair couplings ({couplings.gauge} gauge, {couplings.method})")
    ax.set_xlabel("site j")
    ax.set_ylabel("site i")
    path = Path(f"{stem}_matrix.png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(str(path))
    if truth is None:
        return written
    series = {1: (truth.fields, couplings.fields)}
    for k, term in couplings.couplings.items():
        lookup = {}
        if k in truth.couplings:
            idx, val = truth.couplings[k]
            lookup = dict(zip(map(tuple, torch.sort(idx, 1).values.tolist()), val.tolist()))
        true = torch.tensor([lookup.get(tuple(r), 0.0) for r in term.indices.tolist()], dtype=torch.float64)
        series[k] = (true, term.values)
    for k, (true, inferred) in series.items():
        fig, ax = plt.subplots(figsize=(4.4, 4.2))
        ax.scatter(true.numpy(), inferred.numpy(), s=6, alpha=0.5)
        lo = float(min(true.min(), inferred.min()))
        hi = float(max(true.max(), inferred.max()))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        name = "fields" if k == 1 else f"order {k}"
        ax.set_xlabel(f"true ({name})")
        ax.set_ylabel(f"inferred ({name})")
        ax.set_title(f"{name}: inferred vs true")
        path = Path(f"{stem}_scatter_{'fields' if k == 1 else f'order{k}'}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(str(path))
    return written


def couplings(
    run: Path = typer.Argument(..., help="Run file of a trained binary model (RBM, hybrid, Ising BM)"),
    out: Path = typer.Option(..., "--out", "-o", help="COUPLINGS.h5 to write (the ground-truth layout)"),
    order: int = typer.Option(2, "--order", help="Highest interaction order: 2 (fields + pairs) or 3 (+ triplets)"),
    method: str = typer.Option("exact", "--method", help="exact | gaussian | sampling | cossu"),
    gauge: str = typer.Option("ising", "--gauge", help="ising (s = ±1) | lattice-gas (n = 0/1)"),
    truth: Optional[Path] = typer.Option(None, "--truth",
                                         help="Reference: a synthetic data file (its beta-scaled truth) "
                                              "or another COUPLINGS.h5"),
    unscaled_truth: bool = typer.Option(False, "--unscaled-truth",
                                        help="Compare with the stored truth not multiplied by beta"),
    normalization: str = typer.Option("relative", "--normalization",
                                      help="relative (sum J_true^2) | reference (sum of the unscaled truth^2, "
                                           "as the SciPost notebook)"),
    checkpoint: Optional[int] = typer.Option(None, "--checkpoint", help="Update number (default: last)"),
    samples: int = typer.Option(200_000, "--samples", help="sampling: uniform configurations K"),
    quadrature: int = typer.Option(80, "--quadrature", help="gaussian: Gauss-Hermite nodes"),
    seed: int = typer.Option(0, "--seed", help="sampling: seed"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts"),
    no_plots: bool = typer.Option(False, "--no-plots", help="Do not write the PNG figures"),
    threads: Optional[int] = ThreadsOption,
) -> None:
    """Effective fields and couplings of a trained model (the generalized Ising model of its energy),
    with reconstruction errors per order when the true couplings are known."""
    import torch

    from boltzkit.interpret.couplings_file import (FORMAT, compare_with_truth, file_format, read_truth,
                                                   truth_in_gauge, write_couplings)
    from boltzkit.interpret.energy_couplings import model_couplings
    from boltzkit.io.trajectory import load_model

    setup_torch(threads, "cpu")
    if method not in METHODS:
        raise BoltzkitError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    if order not in (2, 3):
        raise BoltzkitError(f"--order {order}: choose 2 or 3")
    if gauge not in ("ising", "lattice-gas"):
        raise BoltzkitError(f"--gauge {gauge!r}: choose ising or lattice-gas")
    if normalization not in ("relative", "reference"):
        raise BoltzkitError(f"--normalization {normalization!r}: choose relative or reference")
    if out.suffix.lower() not in (".h5", ".hdf5"):
        raise BoltzkitError(f"--out {out}: expected an .h5 / .hdf5 file name")
    reference = read_truth(truth, scaled=not unscaled_truth) if truth is not None else None
    model = load_model(run, checkpoint)
    start = time.perf_counter()
    result = model_couplings(model, orders=order, method=method, gauge=gauge, n_samples=samples,
                             generator=torch.Generator().manual_seed(seed), n_quadrature=quadrature)
    elapsed = time.perf_counter() - start
    write_couplings(out, result, {"run": str(run), "checkpoint": checkpoint, "method": method, "gauge": gauge,
                                  "order": order, "samples": samples if method == "sampling" else None,
                                  "seed": seed if method == "sampling" else None})
    report: dict[str, Any] = {"run": str(run), "out": str(out), "method": result.method, "gauge": gauge,
                              "orders": [1, *result.orders], "n_sites": result.n_sites,
                              "time_s": round(elapsed, 3)}
    if result.standard_errors:
        report["standard_error"] = {str(k): float(v.mean()) for k, v in result.standard_errors.items()}
    errors = None
    shown_truth = None
    if reference is not None:
        unscaled = read_truth(truth, scaled=False) if normalization == "reference" else None
        errors = compare_with_truth(result, reference, normalization, unscaled)
        shown_truth = truth_in_gauge(reference, gauge)
        if file_format(truth) == FORMAT:
            scaling = "effective couplings, as stored"
        elif reference.scaled:
            scaling = f"beta-scaled: beta * J with beta = {reference.beta:g}"
        else:
            scaling = f"unscaled J (beta = {reference.beta:g} not applied)"
        report["truth"] = {"path": str(truth), "scaling": scaling, "convention": reference.convention,
                           "compared_in_gauge": gauge, "normalization": normalization}
        report["epsilon"] = {str(k): _finite(e.epsilon) for k, e in errors.items()}
        report["rmse"] = {str(k): _finite(e.rmse) for k, e in errors.items()}
        report["n_terms"] = {str(k): e.n_terms for k, e in errors.items()}
    if not no_plots:
        report["figures"] = _figures(out, result, shown_truth)
    if as_json:
        print_json(report)
        return
    console.print(f"{result.method} couplings of {run} ({result.n_sites} sites, {gauge} gauge) "
                  f"in {elapsed:.2f} s -> {out}")
    if errors is not None:
        from rich.table import Table

        table = Table(title=f"reconstruction error vs {truth} — truth {report['truth']['scaling']}, "
                            f"{reference.convention} convention, compared in the {gauge} gauge")
        table.add_column("order")
        table.add_column("epsilon", justify="right")
        table.add_column("rmse", justify="right")
        table.add_column("terms", justify="right")
        for k, e in errors.items():
            eps = "n/a (true terms all zero)" if math.isnan(e.epsilon) else f"{e.epsilon:.4f}"
            table.add_row("fields" if k == 1 else str(k), eps, f"{e.rmse:.4g}", str(e.n_terms))
        stdout.print(table)
    for path in report.get("figures", []):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``couplings`` command to the ``boltzkit`` app."""
    app.command(name="couplings")(user_errors(couplings))
