"""TreeRBM on real data: human-genome haplotypes (805 SNPs, 1000 Genomes) and bundled MNIST digits.

Trains a Bernoulli RBM with boltzkit (many linearly spaced checkpoints), walks the checkpoints with
:func:`boltzkit.interpret.tree.tree_from_checkpoints` on a random subset of the data, and scores the
levels against the known labels (adjusted Rand index, purity):

* ``--dataset hgd``: 5008 haplotypes x 805 SNPs (``/work/shared/data/human_genome_805snp``); labels
  ``super_pop`` (5 continents) and ``pop`` (26 populations). Reported: ARI of the top levels vs
  the super-population, and the best level per label family.
* ``--dataset mnist``: the bundled MNIST test set (10000 digits, binarised at 0.5). Reported: purity
  of the level with 10 clusters (or the first level with at least 10), and the best ARI.
* ``--dataset synthetic``: the 3-level hierarchical generator (a quick end-to-end check).

The run file is reused when it exists (``--run``), so the tree settings can be varied without
retraining. Prints one JSON object (settings, timings, scores)::

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/tree_real.py --dataset hgd --run /tmp/hgd.h5
    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/tree_real.py --dataset mnist --run /tmp/mnist.h5
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch

HGD = Path("/work/shared/data/human_genome_805snp")


def load_hgd() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(samples (5008, 805) {0,1}, {"super_pop": ..., "pop": ...})."""
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


def load_data(name: str, seed: int):
    if name == "hgd":
        x, labels = load_hgd()
        return x, labels, None
    if name == "mnist":
        from boltzkit.data.bundled import load_mnist

        d = load_mnist()
        return d.samples.astype(np.uint8), {"digit": d.labels}, d.image_shape
    from boltzkit.synthetic.hierarchical import hierarchical

    d = hierarchical(levels=3, branching=2, n_features=100, n_samples=2000, seed=seed)
    return d.samples, d.level_labels(), None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("hgd", "mnist", "synthetic"), default="hgd")
    parser.add_argument("--run", type=Path, required=True, help="run file (trained if missing)")
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--chains", type=int, default=500)
    parser.add_argument("--gibbs-steps", type=int, default=10)
    parser.add_argument("--checkpoints", type=int, default=100)
    parser.add_argument("--n-points", type=int, default=500)
    parser.add_argument("--eps", type=float, default=1.0)
    parser.add_argument("--order", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=2000)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--cluster-on", default="visible")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write tree.nwk / tree.png / CSVs here (a .nwk path)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import boltzkit
    from boltzkit.interpret.tree import tree_from_checkpoints, write_tree_outputs
    from boltzkit.interpret.tree_metrics import level_scores, tree_agreement
    from boltzkit.io.trajectory import checkpoint_info, load_models

    x, labels, image_shape = load_data(args.dataset, args.seed)
    result: dict = {"dataset": args.dataset, "n_samples": int(len(x)), "n_features": int(x.shape[1]),
                    "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    t0 = time.perf_counter()
    if not args.run.exists():
        boltzkit.BernoulliRBM(n_hidden=args.hidden, n_updates=args.updates, batch_size=args.batch_size,
                              n_chains=args.chains, gibbs_steps=args.gibbs_steps,
                              learning_rate=args.lr, n_checkpoints=args.checkpoints, spacing="linear",
                              random_state=args.seed, out=args.run).fit(x)
        result["train_seconds"] = time.perf_counter() - t0
    else:
        result["train_seconds"] = checkpoint_info(args.run)[-1].get("wall_time")
        result["reused_run"] = True
    models = load_models(args.run)
    rng = np.random.default_rng(args.seed)
    index = np.sort(rng.choice(len(x), min(args.n_points, len(x)), replace=False))
    points = torch.as_tensor(x[index], dtype=torch.float64)
    sub = {k: v[index] for k, v in labels.items()}
    t0 = time.perf_counter()
    tree = tree_from_checkpoints(models, points, order=args.order, eps=args.eps, tol=args.tol,
                                 max_iter=args.max_iter, cluster_on=args.cluster_on)
    result["tree_seconds"] = time.perf_counter() - t0
    result["n_checkpoints"] = len(models)
    result["n_unconverged"] = sum(t["n_unconverged"] for t in tree.trace)
    scores = level_scores(tree.assignments(), sub)
    result["levels"] = [dict(s, update=lv.age) for s, lv in zip(scores, tree.levels)]
    result["agreement"] = tree_agreement(tree.assignments(), sub)
    counts = [lv.n_clusters for lv in tree.levels]
    if args.dataset == "hgd":
        result["top_levels_ari_super_pop"] = [
            {"n_clusters": s["n_clusters"], "ari": s["ari"]["super_pop"], "purity": s["purity"]["super_pop"]}
            for s in scores[:6]]
    if args.dataset == "mnist":
        at = next((i for i, c in enumerate(counts) if c >= 10), len(counts) - 1)
        result["level_10"] = {"n_clusters": counts[at], "purity": scores[at]["purity"]["digit"],
                              "ari": scores[at]["ari"]["digit"]}
    if args.out is not None:
        from boltzkit.report.tree_figures import dendrogram_figure

        names = [f"s{i}" for i in index]
        data = points.numpy()
        write_tree_outputs(tree, args.out, names, data, sub, scores)
        dendrogram_figure(tree, sub).savefig(args.out.with_suffix(".png"), dpi=110)
    print(json.dumps(result, indent=1, default=float))


if __name__ == "__main__":
    main()
