"""The embedded default run (``boltzkit demo`` / ``make demo``).

Trains a Bernoulli RBM by PCD on the bundled binarised MNIST test set (10,000 real digits,
80/20 train/test split), evaluates it (AIS log Z with error bar, train/test log-likelihood
against the independent-site model, moments), draws samples and writes the HTML report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from boltzkit.checks import integer
from boltzkit.cli.common import console, progress_bar
from boltzkit.data.bundled import bundled_path
from boltzkit.data.specs import DataSpec
from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.run_evaluation import evaluate_run
from boltzkit.io.atomic import write_text_atomic
from boltzkit.models.families import DEFAULT_FAMILY
from boltzkit.report.html import ReportOptions, write_report
from boltzkit.report.samples import write_run_samples
from boltzkit.training.config import TrainingConfig
from boltzkit.training.run import train_run


def run_demo(out: str | os.PathLike = "runs/demo", hidden: int = 128, updates: int = 2000,
             device: str = "cpu", progress: bool = True) -> dict:
    """Train, evaluate, sample and report; returns the evaluation dict.

    Writes ``run.h5``, ``evaluation.json``, ``samples.png`` and ``report.html`` into ``out``.
    """
    integer(hidden, "--hidden", 1)
    integer(updates, "--updates", 1)
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BoltzkitError(f"--out {out}: is a file; the demo writes a folder")
    out.mkdir(parents=True, exist_ok=True)
    run = out / "run.h5"
    spec = DataSpec(str(bundled_path("t10k-images-idx3-ubyte.gz")), test_fraction=0.2,
                    split_seed=0, labels_path=str(bundled_path("t10k-labels-idx1-ubyte.gz")))
    config = TrainingConfig(method="pcd", n_updates=updates, batch_size=256, n_chains=256,
                            gibbs_steps=10, learning_rate=0.02, optimizer="sgd", centered=True,
                            n_checkpoints=30, spacing="log", seed=0, device=device)
    console.print(f"[bold]boltzkit demo[/bold]: RBM with {hidden} hidden units, PCD-10, "
                  f"{updates} updates on bundled binarised MNIST (8000 train / 2000 test)")
    with progress_bar("training", updates, progress) as advance:
        train_run(spec, run, DEFAULT_FAMILY.kind, hidden, config, on_update=advance)
    with progress_bar("evaluating", 100, progress) as advance:
        result = evaluate_run(run, ais_chains=300, ais_steps=2000, ais_runs=10, device=device, progress=advance)
    write_text_atomic(out / "evaluation.json", json.dumps(result, indent=2))
    ll, base = result["log_likelihood"], result["independent_site_log_likelihood"]
    console.print(f"log Z = {result['log_z']:.2f} ± {result['log_z_error']:.2f} (AIS); "
                  f"test log-likelihood {ll['test']:.2f} nats vs independent-site {base['test']:.2f}")
    write_run_samples(run, out / "samples.png", 100, gibbs_steps=1000, seed=0, device=device)
    with progress_bar("report", 100, progress) as advance:
        write_report(run, out / "report.html",
                     ReportOptions(curve_points=6, ais_chains=300, ais_steps=2000, ais_runs=10,
                                   curve_ais_chains=100, curve_ais_steps=1000, device=device),
                     progress=advance)
    console.print(f"report: {out / 'report.html'}")
    return result
