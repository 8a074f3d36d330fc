"""``boltzkit couplings RUN.h5``: the interaction network a trained model has learned.

Thin layer over :mod:`boltzkit.interpret`: load the model (a boltzkit run file, or an archive of the
``rbms`` package: :mod:`boltzkit.io.rbms_archive`), expand its energy into fields and couplings
(binary models: :func:`~boltzkit.interpret.energy_couplings.model_couplings`, Ising or lattice-gas
gauge; q-state models: :func:`~boltzkit.interpret.potts_couplings.potts_model_couplings`, zero-sum
gauge), compare them with a reference when one is given, write COUPLINGS.h5 and the figures
(:func:`~boltzkit.report.coupling_figures.write_coupling_figures`: ``<out>_heatmap.png`` and, with a
reference, ``<out>_scatter_fields.png``, ``<out>_scatter_order2.png``, ...), print.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Optional

import typer

from boltzkit.cli.common import ThreadsOption, console, print_json, setup_torch, stdout, user_errors
from boltzkit.errors import BoltzkitError

METHODS = ("exact", "gaussian", "sampling", "cossu", "mixture")


def _finite(x: float) -> float | None:
    return None if x is None or math.isnan(x) else float(x)


def _load(run: Path, checkpoint: Optional[int]):
    """A boltzkit run file, or an archive of the rbms package (detected by its layout)."""
    from boltzkit.io.rbms_archive import is_rbms_archive, load_rbms
    from boltzkit.io.trajectory import load_model

    if is_rbms_archive(run):
        return load_rbms(run, checkpoint), "rbms archive"
    return load_model(run, checkpoint), "run file"


def couplings(
    run: Path = typer.Argument(..., help="Run file of a trained model (RBM, Potts RBM, hybrid, Ising/Potts BM) "
                                         "or an archive of the rbms package"),
    out: Path = typer.Option(..., "--out", "-o", help="COUPLINGS.h5 to write (the ground-truth layout)"),
    order: int = typer.Option(2, "--order", help="Highest interaction order: 2 (fields + pairs) or 3 (+ triplets)"),
    method: str = typer.Option("exact", "--method",
                               help="exact | gaussian | sampling | cossu (binary RBMs) | mixture (Potts RBMs)"),
    gauge: str = typer.Option("ising", "--gauge",
                              help="ising (s = ±1) | lattice-gas (n = 0/1); Potts models: zero-sum (the q-state "
                                   "form of the Ising gauge), lattice-gas refused"),
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

    from boltzkit.interpret.couplings_file import (FORMAT, compare_potts_with_truth, compare_with_truth,
                                                   file_format, read_truth, write_couplings, write_potts_couplings)
    from boltzkit.interpret.energy_couplings import is_potts_model, model_couplings
    from boltzkit.interpret.potts_couplings import potts_model_couplings

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
    model, source = _load(run, checkpoint)
    # Potts by model type, not by q: a q = 2 Potts model has codes {0, 1}, not binary units
    potts = is_potts_model(model)
    if potts:
        if gauge != "ising":  # zero-sum is the q-state Ising gauge (identical at q = 2); nothing else exists
            raise BoltzkitError(f"--gauge {gauge}: {run} is a Potts model, whose couplings are given in the "
                                "zero-sum gauge only (drop --gauge)")
        gauge = "zero-sum"
        if reference is not None and reference.convention != "potts":
            raise BoltzkitError(f"--truth {truth}: {reference.convention} couplings cannot be compared with the "
                                f"Potts couplings of {run}")
    elif reference is not None and reference.convention == "potts":
        raise BoltzkitError(f"--truth {truth}: Potts couplings cannot be compared with the binary model of {run}")
    if method == "mixture" and not potts:
        raise BoltzkitError("--method mixture applies to Potts RBMs")
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    if potts:
        result = potts_model_couplings(model, orders=order, method=method, n_samples=samples, generator=generator,
                                       n_quadrature=quadrature)
    else:
        result = model_couplings(model, orders=order, method=method, gauge=gauge, n_samples=samples,
                                 generator=generator, n_quadrature=quadrature)
    elapsed = time.perf_counter() - start
    parameters = {"run": str(run), "source": source, "checkpoint": checkpoint, "method": method, "gauge": gauge,
                  "order": order, "samples": samples if method == "sampling" else None,
                  "seed": seed if method == "sampling" else None}
    if potts:
        write_potts_couplings(out, result, parameters)
        orders = [1, 2, *sorted(result.terms)]
        standard_errors = {} if result.fields_error is None else {"1": float(result.fields_error.mean())}
        if result.couplings_error is not None:
            n = result.n_sites
            standard_errors["2"] = float(result.couplings_error.sum() / max(1, n * (n - 1) * result.n_states ** 2))
    else:
        write_couplings(out, result, parameters)
        orders = [1, *result.orders]
        standard_errors = {str(k): float(v.mean()) for k, v in result.standard_errors.items()}
    report: dict[str, Any] = {"run": str(run), "source": source, "out": str(out), "method": result.method,
                              "gauge": gauge, "orders": orders, "n_sites": result.n_sites,
                              "n_states": int(getattr(result, "n_states", 2)), "time_s": round(elapsed, 3)}
    if standard_errors:
        report["standard_error"] = standard_errors
    errors = None
    if reference is not None:
        unscaled = read_truth(truth, scaled=False) if normalization == "reference" else None
        if potts:
            errors = compare_potts_with_truth(result, reference, normalization, unscaled)
        else:
            errors = compare_with_truth(result, reference, normalization, unscaled)
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
        from boltzkit.report.coupling_figures import write_coupling_figures

        eps = None if errors is None else {k: e.epsilon for k, e in errors.items()}
        report["figures"] = write_coupling_figures(out, result, reference, eps)
    if as_json:
        print_json(report)
        return
    what = f"{result.n_sites} sites, q = {result.n_states}, zero-sum gauge" if potts else \
        f"{result.n_sites} sites, {gauge} gauge"
    console.print(f"{result.method} couplings of {run} ({what}) in {elapsed:.2f} s -> {out}")
    if errors is not None:
        from rich.table import Table

        table = Table(title=f"reconstruction error vs {truth} — truth {report['truth']['scaling']}, "
                            f"{reference.convention} convention, compared in the {gauge} gauge")
        table.add_column("order")
        table.add_column("epsilon", justify="right")
        table.add_column("rmse", justify="right")
        table.add_column("terms", justify="right")
        for k, e in errors.items():
            eps_text = "n/a (true terms all zero)" if math.isnan(e.epsilon) else f"{e.epsilon:.4f}"
            table.add_row("fields" if k == 1 else str(k), eps_text, f"{e.rmse:.4g}", str(e.n_terms))
        stdout.print(table)
    for path in report.get("figures", []):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``couplings`` command to the ``boltzkit`` app."""
    app.command(name="couplings")(user_errors(couplings))
