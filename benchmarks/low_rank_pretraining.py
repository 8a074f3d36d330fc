"""Low-rank pre-training then PCD against PCD alone on the human genome SNPs (docs/methods.md 6.5).

The 5008 haplotypes x 805 SNPs of ``../shared/data/human_genome_805snp`` (read by boltzkit's
reader), split at random (seed 0) into 4500 training and 508 test rows, as the paper's 4500
training sequences. Two arms, same seed, same hyper-parameters, same number of updates, through
the one training entry (``train_model``, what ``boltzkit train`` runs):

* ``low-rank + PCD``: ``--pretrain low-rank --pretrain-dims 3`` (d = 3 as the paper), then PCD;
* ``PCD``: the family's usual start (small random weights, independent-site visible bias).

For each: the test log-likelihood (log Z by AIS from the training rows' independent-site model,
with its standard error over groups of chains), AA_TS of samples against the test rows and the
training rows — samples drawn by Gibbs chains from random starts, the training's persistent chains,
and parallel trajectory tempering over the run's ``--checkpoints`` saved models (the paper's
samples), started from the run's stored low-rank law in the pre-trained arm and from the data's
independent-site model in the other (``evaluation/adversarial.py``; the privacy
loss is their difference), and the fraction of samples per super-population (the label of each
sample's nearest training row, Hamming distance) against the test rows' fractions.

The paper (ICLR 2025) uses 185 hidden units, PCD-100, 2000 chains, batch 2000, lr 0.01, 10^4
updates and a 100^3 mesh; on this 2-core machine with 1 thread the defaults here are smaller
(100 hidden units, PCD-10, 1000 chains, batch 1000, 5000 updates, a 50^3 mesh, 50 checkpoints, 1000
PTT steps): each arm takes 10 to 20 minutes.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/low_rank_pretraining.py --threads 1
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _threads import SHARED_DATA, threads_from_argv  # noqa: E402

THREADS = threads_from_argv(sys.argv, 1)

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from boltzkit.data.binary import load_binary  # noqa: E402
from boltzkit.evaluation.adversarial import adversarial_accuracy, distances  # noqa: E402
from boltzkit.evaluation.likelihood import log_likelihood  # noqa: E402
from boltzkit.io import trajectory  # noqa: E402
from boltzkit.models.baseline import independent_site_model  # noqa: E402
from boltzkit.models.registry import family  # noqa: E402
from boltzkit.models.visible import BERNOULLI_SPACE  # noqa: E402
from boltzkit.sampling.ais import ais_log_partition  # noqa: E402
from boltzkit.sampling.gibbs import sample  # noqa: E402
from boltzkit.sampling.tempering import ParallelTempering  # noqa: E402
from boltzkit.training.config import TrainingConfig  # noqa: E402
from boltzkit.training.run import TrainingData, train_model  # noqa: E402

HGD = SHARED_DATA / "human_genome_805snp"


def read_hgd() -> tuple[np.ndarray, np.ndarray]:
    """The haplotypes ({0,1}, float32) and their super-population labels."""
    data = load_binary(HGD / "805_SNP_1000G_real.hapt.gz")
    with open(HGD / "805_SNP_1000G_haplotype_labels.tsv") as f:
        header = f.readline().rstrip("\n").split("\t")
        rows = [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f]
    super_pop = {r["haplotype_id"]: r["super_pop"] for r in rows}
    return data.samples, np.array([super_pop[i] for i in data.ids])


def split(x: np.ndarray, labels: np.ndarray, n_train: int, seed: int):
    order = np.random.default_rng(seed).permutation(len(x))
    tr, te = order[:n_train], order[n_train:]
    return x[tr], labels[tr], x[te], labels[te]


def nearest_labels(samples: torch.Tensor, rows: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """The label of each sample's nearest row (Hamming distance), by blocks of samples."""
    out = [labels[distances(samples[i:i + 500], rows, True).argmin(1).numpy()]
           for i in range(0, len(samples), 500)]
    return np.concatenate(out)


def fractions(labels: np.ndarray, names: list[str]) -> list[float]:
    return [float(np.mean(labels == n)) for n in names]


def sample_quality(samples: torch.Tensor, train, test, train_labels) -> dict:
    """AA_TS of ``samples`` against the test rows and as many training rows, and the label of each
    sample's nearest training row."""
    n = min(len(test), len(samples))
    return {"aa_ts_test": adversarial_accuracy(test[:n], samples[:n], True)["aa_ts"],
            "aa_ts_train": adversarial_accuracy(train[:n], samples[:n], True)["aa_ts"],
            "labels": nearest_labels(samples, train, train_labels)}


def evaluate(model, chains, checkpoints, start, train, test, train_labels, args) -> dict:
    """Test log-likelihood (AIS), and the sample quality of Gibbs chains from random starts, of
    the training's persistent chains and of parallel trajectory tempering over the run's
    checkpoints from ``start`` (the run's stored low-rank law, or the training rows'
    independent-site model)."""
    g = torch.Generator().manual_seed(args.seed + 1)
    base = independent_site_model(BERNOULLI_SPACE, train)
    ais = ais_log_partition(model, args.ais_chains, args.ais_steps, 10, g, base=base)
    ll, _ = log_likelihood(model, test, ais.log_z)
    gibbs = sample(model, args.samples, args.sample_steps, g).cpu()
    result = {"log_z": ais.log_z, "log_z_error": ais.error, "test_ll": ll,
              "gibbs": sample_quality(gibbs, train, test, train_labels),
              "chains": sample_quality(chains.float(), train, test, train_labels)}
    if args.ptt_steps:
        pt = ParallelTempering.trajectory([base if start is None else start, *checkpoints], args.samples, g)
        result["ptt"] = sample_quality(pt.step(args.ptt_steps).visible.cpu().float(), train, test, train_labels)
        result["ptt"]["replicas"] = len(pt.replicas)
        result["ptt"]["acceptance"] = float(pt.acceptance.min())
    return result


def run_arm(pretrain: str, train: torch.Tensor, args):
    """Train one arm; (model, seconds, run config, persistent chains, checkpoints, tempering start)."""
    config = TrainingConfig(method="pcd", n_updates=args.updates, batch_size=args.batch,
                            n_chains=args.chains, gibbs_steps=args.gibbs_steps,
                            learning_rate=args.lr, n_checkpoints=args.checkpoints, seed=args.seed,
                            **({"pretrain": pretrain, "pretrain_dims": args.dims} if pretrain == "low-rank" else {}))
    data = TrainingData(train.numpy(), None, BERNOULLI_SPACE, config)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run.h5"
        t0 = time.perf_counter()
        model = train_model(family("bernoulli-rbm"), data, config, out,
                            options={"n_hidden": args.hidden})
        seconds = time.perf_counter() - t0
        checkpoints = [m for _, m in trajectory.load_models(out)][:-1] + [model]
        return (model, seconds, trajectory.read_config(out), trajectory.read_state(out).chains, checkpoints,
                trajectory.read_tempering_start(out, model))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--updates", type=int, default=5000)
    p.add_argument("--chains", type=int, default=1000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--gibbs-steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--dims", type=int, default=3)
    p.add_argument("--mesh-points", type=int, default=50)
    p.add_argument("--ais-chains", type=int, default=500)
    p.add_argument("--ais-steps", type=int, default=3000)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--sample-steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arms", default="low-rank,none")
    p.add_argument("--checkpoints", type=int, default=50, help="saved models (the replicas PTT chooses from)")
    p.add_argument("--ptt-steps", type=int, default=1000, help="steps of PTT sampling (0: none)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    import boltzkit.training.low_rank as low_rank
    low_rank.MESH_POINTS[args.dims] = args.mesh_points  # the benchmark's mesh (see the docstring)
    x, labels = read_hgd()
    tr, tr_lab, te, te_lab = split(x, labels, 4500, args.seed)
    train, test = torch.from_numpy(tr), torch.from_numpy(te)
    names = sorted(set(labels))
    rows = []
    for arm in args.arms.split(","):
        model, seconds, run_config, chains, checkpoints, start = run_arm(arm, train, args)
        t0 = time.perf_counter()
        result = evaluate(model, chains, checkpoints, start, train, test, tr_lab, args)
        rows.append((arm, seconds, time.perf_counter() - t0, run_config, result))
        print(f"{arm}: trained in {seconds:.0f} s, evaluated in {rows[-1][2]:.0f} s", flush=True)
    print_table(rows, names, te_lab, args)


def print_table(rows, names, test_labels, args) -> None:
    print(f"\nhuman genome 805 SNPs, 4500 train / {len(test_labels)} test rows; {args.hidden} hidden, "
          f"PCD-{args.gibbs_steps}, {args.chains} chains, batch {args.batch}, lr {args.lr}, "
          f"{args.updates} updates; d = {args.dims}, mesh {args.mesh_points}^{args.dims}; "
          f"{args.threads} thread(s); samples: Gibbs = {args.samples} chains x {args.sample_steps} "
          f"steps from random starts, PCD = the training's persistent chains, PTT = {args.samples} chains x "
          f"{args.ptt_steps} steps of trajectory tempering over {args.checkpoints} checkpoints from the "
          "run's low-rank law (pre-trained) or the data's independent-site model")
    print(f"{'arm':<16}{'train s':>8}{'test LL':>10}{'± AIS':>7}{'samples':>8}{'AA_TS test':>11}"
          f"{'AA_TS train':>12}{'privacy':>9}  " + " ".join(f"{n:>5}" for n in names))
    print(f"{'test rows':<16}{'':>65}  " + " ".join(f"{f:5.3f}" for f in fractions(test_labels, names)))
    for arm, seconds, _, config, r in rows:
        label = "low-rank + PCD" if arm == "low-rank" else "PCD"
        sources = [("gibbs", "Gibbs"), ("chains", "PCD")] + ([("ptt", "PTT")] if "ptt" in r else [])
        for i, (source, name) in enumerate(sources):
            q = r[source]
            head = f"{label:<16}{seconds:8.0f}{r['test_ll']:10.2f}{r['log_z_error']:7.2f}" if i == 0 \
                else f"{'':<41}"
            print(f"{head}{name:>8}{q['aa_ts_test']:11.3f}{q['aa_ts_train']:12.3f}"
                  f"{q['aa_ts_test'] - q['aa_ts_train']:9.3f}  "
                  + " ".join(f"{f:5.3f}" for f in fractions(q["labels"], names)))
        if "ptt" in r:
            print(f"  PTT: {r['ptt']['replicas']} replicas, lowest exchange acceptance {r['ptt']['acceptance']:.2f}")
        pre = config.get("pretrain")
        if pre:
            print(f"  pre-training ({pre.get('seconds', float('nan')):.0f} s of the training time): "
                  f"{pre['hyperplanes']} hyperplanes, mesh {pre['mesh_size']} points "
                  f"({pre['mesh_points_reachable']} reachable), train LL of the RCM "
                  f"{pre.get('rcm_train_log_likelihood', float('nan')):.2f}, of its RBM "
                  f"{pre['train_log_likelihood']:.2f} (mesh log Z {pre['log_partition']:.2f})")


if __name__ == "__main__":
    main()
