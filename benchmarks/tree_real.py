"""TreeRBM on real data: human-genome haplotypes, MNIST digits and a protein family (Potts RBM).

Runs the same pipeline as the command line (``boltzkit train ... --labels``, then ``boltzkit tree``):
writes the input files into ``--workdir`` (data + one label per line), trains a run with many
linearly spaced checkpoints through :func:`boltzkit.training.run.train_run` (so the run stores the
labels of its data, which ``boltzkit report`` shows on the tree), walks the checkpoints with
:func:`boltzkit.interpret.tree.tree_from_checkpoints` from a random subset of the data, and scores
every level against the labels (adjusted Rand index, purity):

* ``--dataset hgd``: 5008 haplotypes x 805 SNPs (``/work/shared/data/human_genome_805snp``), labels
  ``super_pop`` (5 continents). Reported: ARI / purity of the top levels vs the super-population.
* ``--dataset mnist``: the bundled MNIST test set (10000 digits, binarised at 0.5), digit labels.
  Reported: purity of the level with 10 clusters (or the first level with at least 10).
* ``--dataset cm``: chorismate mutase, 1130 natural sequences x 96 sites with a functional label
  (active / inactive in E. coli, Russ et al. 2020; ``/work/shared/data/msa/chorismate_mutase/
  Natural_CM_labeled.csv.gz``), a Potts RBM (``potts-rbm``, PCD) and the Potts TAP fixed points.
* ``--dataset synthetic``: the 3-level hierarchical generator (a quick end-to-end check).

The run file is reused when it exists, so the tree settings can be varied without retraining.
Prints one JSON object (settings, timings, scores); ``--figure`` saves the dendrogram as a PNG::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tree_real.py --dataset hgd --threads 1 \\
        --figure docs/figures/tree_hgd.png
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tree_real.py --dataset mnist --threads 1
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tree_real.py --dataset cm --hidden 50 \\
        --n-points 1130 --threads 1 --figure docs/figures/tree_chorismate_mutase.png

The equivalent commands are printed under ``"commands"``.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HGD = SHARED / "human_genome_805snp"
CM = SHARED / "msa" / "chorismate_mutase" / "Natural_CM_labeled.csv.gz"
BUNDLED = Path(__file__).resolve().parents[1] / "src" / "boltzkit" / "data" / "bundled"
LABEL_NAMES = {"hgd": "super_pop", "mnist": "digit", "cm": "function"}


def load_hgd() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(samples (5008, 805) {0,1}, {"super_pop": ..., "pop": ...}), in the file's order."""
    ids, rows = [], []
    with gzip.open(HGD / "805_SNP_1000G_real.hapt.gz", "rt") as f:
        for line in f:
            parts = line.split()
            ids.append(parts[1])
            rows.append(np.array(parts[2:], dtype=np.uint8))
    x = np.stack(rows)
    table = {}
    with open(HGD / "805_SNP_1000G_haplotype_labels.tsv") as f:
        header = f.readline().rstrip("\n").split("\t")
        for line in f:
            cells = dict(zip(header, line.rstrip("\n").split("\t")))
            table[cells["haplotype_id"]] = cells
    labels = {k: np.array([table[i][k] for i in ids]) for k in ("super_pop", "pop")}
    return x, labels


def _write_labels(path: Path, labels) -> None:
    path.write_text("\n".join(str(v) for v in labels) + "\n")


def prepare(dataset: str, workdir: Path, seed: int) -> tuple[Path, Path, str]:
    """Write the data file and its labels file (one per line) into ``workdir``; returns
    (data path, labels path, model kind)."""
    workdir.mkdir(parents=True, exist_ok=True)
    if dataset == "hgd":
        data, labels = workdir / "hgd.npy", workdir / "hgd_super_pop.txt"
        if not data.exists():
            x, lab = load_hgd()
            np.save(data, x)
            _write_labels(labels, lab["super_pop"])
            _write_labels(workdir / "hgd_pop.txt", lab["pop"])
        return data, labels, "bernoulli-rbm"
    if dataset == "mnist":
        return (BUNDLED / "t10k-images-idx3-ubyte.gz", BUNDLED / "t10k-labels-idx1-ubyte.gz",
                "bernoulli-rbm")
    if dataset == "cm":
        data, labels = workdir / "cm.fasta", workdir / "cm_labels.txt"
        if not data.exists():
            with gzip.open(CM, "rt") as f:
                rows = list(csv.DictReader(f))
            data.write_text("".join(f">{r['header']}\n{r['sequence']}\n" for r in rows))
            _write_labels(labels, ["active" if r["label"] == "True" else "inactive" for r in rows])
        return data, labels, "potts-rbm"
    from boltzkit.synthetic.hierarchical import hierarchical

    data = workdir / "synthetic.h5"
    if not data.exists():
        hierarchical(levels=3, branching=2, n_features=100, n_samples=2000, seed=seed).save(data)
    return data, None, "bernoulli-rbm"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("hgd", "mnist", "cm", "synthetic"), default="hgd")
    parser.add_argument("--workdir", type=Path, help="inputs, run and tree files "
                                                     "(default /tmp/boltzkit_tree_<dataset>)")
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--gibbs-steps", type=int, default=10)
    parser.add_argument("--checkpoints", type=int, default=100)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    parser.add_argument("--n-points", type=int, default=500)
    parser.add_argument("--eps", type=float, default=1.0)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--cluster-on", default="visible")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", type=Path, help="save the dendrogram here (PNG)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from boltzkit.interpret.landscape import load_run_points
    from boltzkit.interpret.tree import tree_from_checkpoints, write_tree_outputs
    from boltzkit.interpret.tree_metrics import level_scores, read_label_sets, tree_agreement
    from boltzkit.io.trajectory import checkpoint_info, load_models
    from boltzkit.training.config import TrainingConfig
    from boltzkit.data.specs import DataSpec, MSASpec
    from boltzkit.training.run import train_run

    workdir = args.workdir or Path(f"/tmp/boltzkit_tree_{args.dataset}")
    data, labels_path, kind = prepare(args.dataset, workdir, args.seed)
    run = workdir / f"{args.dataset}_run.h5"
    result: dict = {"dataset": args.dataset, "kind": kind,
                    "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    t0 = time.perf_counter()
    if not run.exists():
        config = TrainingConfig(method="pcd", n_updates=args.updates, batch_size=args.batch_size,
                                n_chains=args.chains, gibbs_steps=args.gibbs_steps,
                                learning_rate=args.lr, n_checkpoints=args.checkpoints,
                                spacing="linear", seed=args.seed)
        if kind == "potts-rbm":
            spec = MSASpec(str(data), "protein", True, 0.8, 0.0, args.seed)
        else:
            spec = DataSpec(str(data), "samples", "threshold", 0.5, args.test_fraction, args.seed,
                            None if labels_path is None else str(labels_path))
        train_run(spec, run, kind, args.hidden, config)
        result["train_seconds"] = time.perf_counter() - t0
    else:
        result["train_seconds"] = checkpoint_info(run)[-1].get("wall_time")
        result["reused_run"] = True
    points = load_run_points(run, data, n_points=args.n_points, seed=args.seed)
    if labels_path is not None:
        sets = read_label_sets(str(labels_path), data)
    else:
        sets = read_label_sets("labels", data)
    sub = {k: np.asarray(v)[points.index] for k, v in sets.items()}
    if len(sub) == 1 and args.dataset in LABEL_NAMES:  # a readable name for the figure's strip
        sub = {LABEL_NAMES[args.dataset]: next(iter(sub.values()))}
    models = load_models(run)
    t0 = time.perf_counter()
    tree = tree_from_checkpoints([(u, m.to(dtype=torch.float64)) for u, m in models], points.x,
                                 order=args.order, eps=args.eps, tol=args.tol,
                                 max_iter=args.max_iter, cluster_on=args.cluster_on)
    result["tree_seconds"] = time.perf_counter() - t0
    result["n_checkpoints"] = len(models)
    result["n_points"] = tree.n_points
    result["n_unconverged"] = sum(t["n_unconverged"] for t in tree.trace)
    result["n_damped"] = sum(t["n_damped"] for t in tree.trace)
    scores = level_scores(tree.assignments(), sub)
    result["levels"] = [dict(s, update=lv.age) for s, lv in zip(scores, tree.levels)]
    result["agreement"] = tree_agreement(tree.assignments(), sub)
    counts = [lv.n_clusters for lv in tree.levels]
    name = next(iter(sub))
    if args.dataset in ("hgd", "cm"):
        result["top_levels"] = [{"n_clusters": s["n_clusters"], "ari": s["ari"][name],
                                 "purity": s["purity"][name]} for s in scores[:6]]
    if args.dataset == "mnist":
        at = next((i for i, c in enumerate(counts) if c >= 10), len(counts) - 1)
        result["level_10"] = {"n_clusters": counts[at], "purity": scores[at]["purity"][name],
                              "ari": scores[at]["ari"][name]}
    files = write_tree_outputs(tree, workdir / f"{args.dataset}_tree.nwk", points.names,
                               points.one_hot(), sub, scores)
    result["files"] = files
    if args.figure is not None:
        from boltzkit.io.atomic import atomic_path
        from boltzkit.report.tree_figures import dendrogram_figure

        args.figure.parent.mkdir(parents=True, exist_ok=True)
        fig = dendrogram_figure(tree, sub, title=f"TreeRBM, {args.dataset}: {tree.n_points} points, "
                                                 f"{len(models)} checkpoints")
        with atomic_path(args.figure) as tmp:
            fig.savefig(tmp, format="png", dpi=80, metadata={"Software": None})
    labels_opt = f" --labels {labels_path}" if labels_path is not None else ""
    train_labels = labels_opt if kind != "potts-rbm" else ""
    result["commands"] = [
        f"boltzkit train {data} --model {kind} --method pcd --hidden {args.hidden} "
        f"--updates {args.updates} --batch-size {args.batch_size} --chains {args.chains} "
        f"--gibbs-steps {args.gibbs_steps} --lr {args.lr} --checkpoints {args.checkpoints} "
        f"--spacing linear" + ("" if kind == "potts-rbm" else f" --test-fraction {args.test_fraction}")
        + f"{train_labels} --out {run}",
        f"boltzkit tree {run} {data}{labels_opt} --n-points {args.n_points} --max-iter "
        f"{args.max_iter} --out {workdir / (args.dataset + '_tree.nwk')}",
        f"boltzkit report {run} -o {workdir / (args.dataset + '_report.html')}"]
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
