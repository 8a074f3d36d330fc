"""``boltzkit couplings RUN.h5``: the interaction network a trained model has learned.

Thin layer: :func:`boltzkit.interpret.run_interpretation.run_couplings` loads the model (a boltzkit
run file, or an archive of the ``rbms`` package: :mod:`boltzkit.io.rbms_archive`), expands its energy
into fields and couplings (binary visible units: Ising or lattice-gas gauge; categorical ones:
zero-sum gauge), compares them with a reference when one is given and writes COUPLINGS.h5; here we
parse, draw the figures (:func:`~boltzkit.report.coupling_figures.write_coupling_figures`:
``<out>_heatmap.png`` and, with a reference, ``<out>_scatter_fields.png``, ``<out>_scatter_order2.png``,
...) and print. The API is imported inside the command: it loads torch, which ``boltzkit --help``
does not need. A progress bar opens once the expansion has run for a few seconds (not with ``--json``).
"""

from __future__ import annotations

import math
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator, Optional

import typer
from boltzkit.cli.common import MaxMemoryOption, ThreadsOption, console, print_json, print_table, progress_bar, \
    setup_torch, user_errors

#: Seconds of work before the progress bar shows (quick expansions print no bar).
BAR_DELAY_S = 2.0


def couplings(
    run: Path = typer.Argument(..., help="Run file of a trained model (RBM, Potts RBM, hybrid, Ising/Potts BM), "
                                         "an archive of the rbms package, an adabmDCA params.dat or a plmc "
                                         "parameter file"),
    out: Path = typer.Option(..., "--out", "-o", help="COUPLINGS.h5 to write (the ground-truth layout)"),
    order: int = typer.Option(2, "--order", help="Highest interaction order: 2 (fields + pairs) or 3 (+ triplets)"),
    method: str = typer.Option("exact", "--method",
                               help="exact (N <= 24 binary, q^N <= 2^24 Potts) | gaussian (central limit) | "
                                    "mixture (RBMs: central limit with the largest-weight sites of each hidden unit "
                                    "summed exactly) | sampling | cossu (binary RBMs; an APPROXIMATION that drops "
                                    "every higher-order term: its fields are biased, by about the summed couplings "
                                    "of a site, and its pairs off by ~30 %)"),
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
    no_exact_gap: bool = typer.Option(False, "--no-exact-gap",
                                      help="Skip the gaussian-vs-exact gap measured on binary RBMs with N <= 24"),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar"),
    threads: Optional[int] = ThreadsOption,
    max_memory: Optional[float] = MaxMemoryOption,
) -> None:
    """Effective fields and couplings of a trained model (the generalized Ising model of its energy),
    with reconstruction errors per order when the true couplings are known."""
    from boltzkit.interpret.run_interpretation import run_couplings  # heavy (torch): not for --help

    setup_torch(threads, "cpu")
    with _delayed_progress(not (quiet or as_json)) as progress:
        found = run_couplings(run, out, order, method, gauge, truth, unscaled_truth, normalization, checkpoint,
                              samples, quadrature, seed, max_memory, progress, not no_exact_gap)
    report = found.summary
    if not no_plots:
        from boltzkit.report.coupling_figures import write_coupling_figures  # heavy (matplotlib)

        eps = None if found.errors is None else {k: e.epsilon for k, e in found.errors.items()}
        report["figures"] = write_coupling_figures(out, found.couplings, found.reference, eps)
    if as_json:
        print_json(report)
        return
    _print_couplings(run, out, found, truth)


@contextmanager
def _delayed_progress(enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """A ``progress(done, total)`` callback drawing a bar once the work has taken :data:`BAR_DELAY_S`;
    a new bar for every new stage (the expansion, then the exact one of the gap: a new total)."""
    start = time.perf_counter()
    with ExitStack() as stack:
        bar: dict = {}

        def progress(done: int, total: int) -> None:
            if not enabled or time.perf_counter() - start < BAR_DELAY_S:
                return
            if bar.get("total") != total or done < bar.get("done", 0):
                if "close" in bar:
                    bar.pop("close").close()
                stage = bar.get("stage", 0)
                inner = ExitStack()
                label = "couplings" if stage == 0 else "exact reference of the gap"
                bar.update(close=inner, total=total, stage=stage + 1,
                           advance=inner.enter_context(progress_bar(label, total)))
                if stage == 0:
                    stack.callback(lambda: bar.pop("close").close() if "close" in bar else None)
            bar["done"] = done
            bar["advance"](done)

        yield progress


def _print_couplings(run: Path, out: Path, found, truth: Optional[Path]) -> None:
    result, gauge, report = found.couplings, found.gauge, found.summary
    what = f"{result.n_sites} sites, q = {result.n_states}, zero-sum gauge" if found.categorical else \
        f"{result.n_sites} sites, {gauge} gauge"
    console.print(f"{result.method} couplings of {run} ({what}) in {found.seconds:.2f} s -> {out}")
    if "approximation" in report:
        console.print(f"[yellow]warning:[/yellow] {report['approximation']}")
    for key, name in (("gaussian_exact_gap", "gaussian"), ("method_exact_gap", result.method)):
        if key in report:
            gaps = ", ".join(f"{'fields' if k == '1' else f'order {k}'} {v:.2e}" for k, v in report[key].items()
                             if v is not None)
            console.print(f"{name} vs exact (relative L2 gap, N = {result.n_sites} <= 24): {gaps}")
    if found.errors is not None:
        print_table(f"reconstruction error vs {truth} — truth {report['truth']['scaling']}, "
                    f"{found.reference.convention} convention, compared in the {gauge} gauge",
                    [("fields" if k == 1 else str(k),
                      "n/a (true terms all zero)" if math.isnan(e.epsilon) else f"{e.epsilon:.4f}",
                      f"{e.rmse:.4g}", str(e.n_terms)) for k, e in found.errors.items()],
                    ("order", "epsilon", "rmse", "terms"))
    for path in report.get("figures", []):
        console.print(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``couplings`` command to the ``boltzkit`` app."""
    app.command(name="couplings")(user_errors(couplings))
