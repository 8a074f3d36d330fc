"""Benchmark boltzkit's RBM training against the reference library ``rbms`` (DsysDML/rbms 0.6.0).

Both libraries train the same Bernoulli RBM with the same settings (data, n_hidden, batch size,
chains, PCD-k, SGD learning rate, number of updates, centred gradient, initialisation), each
with its own training loop, in separate processes that use the same number of CPU threads.
The script prints, per configuration:

* training speed: updates/s of each library and their ratio (steady state: the first updates,
  where TorchScript and torch.compile warm up, are left out; see ``--warmup``);
* achieved GFLOP/s of each training loop (matmul FLOPs of one update, below) against a loop of
  plain torch matmuls of the same shapes and layouts on this machine;
* test log-likelihood of both final models, log Z estimated by the SAME estimator (boltzkit's
  AIS, same chains, same temperatures, same seed), and the exact log Z when a layer has at most
  20 units.

Matmul FLOPs of one PCD-k update (C chains, B batch, Nv x Nh weights), the same count for both
libraries: k Gibbs steps x 2 matmuls of C x Nv x Nh, hidden means of the minibatch and of the
chains (B + C), the two weight-gradient matmuls (B + C), 2 FLOP per multiply-add::

    flops = 2 Nv Nh (2 k C + 2 B + 2 C)

``rbms`` runs in its own virtual environment, ``benchmarks/.envs/rbms`` (git-ignored), created
on first use with the same torch version as boltzkit's environment (the CPU wheel), then
``rbms==0.6.0`` without its dependencies (it declares Python >= 3.12; on 3.11 the worker
injects ``typing.override`` from typing_extensions) and its small pure dependencies.
See benchmarks/README.md. Run by hand, never by the tests::

    .venv/bin/python benchmarks/bench_rbms.py                 # both configurations, 2 threads
    .venv/bin/python benchmarks/bench_rbms.py --quick         # a smoke run (minutes)
    .venv/bin/python benchmarks/bench_rbms.py --config small --profile
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import venv
from dataclasses import dataclass, field
from pathlib import Path


from _threads import SHARED_DATA, threads_from_argv  # noqa: E402  (before torch)

_THREADS = threads_from_argv(sys.argv, default=2)

import numpy as np  # noqa: E402
import torch  # noqa: E402

from boltzkit.data import read_idx  # noqa: E402
from boltzkit.estimator import BernoulliRBM  # noqa: E402
from boltzkit.evaluation.likelihood import log_likelihood  # noqa: E402
from boltzkit.evaluation.log_partition import log_partition  # noqa: E402
from boltzkit.models.rbm import RBM, independent_site_model  # noqa: E402
from boltzkit.training.config import TrainingConfig  # noqa: E402
from boltzkit.training.trainer import Trainer  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ENV_DIR = HERE / ".envs" / "rbms"
WORKER = HERE / "_rbms_worker.py"
RBMS_VERSION = "0.6.0"
# rbms' runtime dependencies (besides torch), pinned to versions known to work with 0.6.0.
RBMS_DEPS = ["numpy==2.4.6", "h5py==3.16.0", "tqdm==4.70.1", "matplotlib==3.11.2",
             "typing_extensions>=4.6"]
EXACT_MAX_UNITS = 20


# ---------------------------------------------------------------------------- rbms environment
def _env_python() -> Path:
    return ENV_DIR / "bin" / "python"


def ensure_rbms_env() -> Path:
    """Create benchmarks/.envs/rbms with rbms 0.6.0 and boltzkit's torch version (CPU wheel)."""
    marker = ENV_DIR / ".bench_ready"
    torch_spec = "torch==" + torch.__version__.split("+")[0]
    if marker.is_file() and marker.read_text() == torch_spec:
        return _env_python()
    print(f"creating {ENV_DIR.relative_to(REPO)} ({torch_spec}, rbms=={RBMS_VERSION}) ...",
          flush=True)
    venv.EnvBuilder(with_pip=True, clear=True).create(ENV_DIR)
    log_path = ENV_DIR / "install.log"
    pip = [str(_env_python()), "-m", "pip", "install", "--disable-pip-version-check"]
    steps = [
        # The exact torch version of boltzkit's environment: with this machine's pip
        # configuration it is the local CPU wheel. An unpinned `pip install torch` would pull the
        # CUDA build (several GB).
        [torch_spec],
        RBMS_DEPS,
        # --no-deps: rbms asks for torch>=2.10 and matplotlib/h5py/numpy/tqdm, installed above.
        # --ignore-requires-python: it declares >=3.12 for typing.override only, which the
        # worker shims.
        ["--no-deps", "--ignore-requires-python", f"rbms=={RBMS_VERSION}"],
    ]
    with open(log_path, "w") as log:
        for step in steps:
            if subprocess.run(pip + step, stdout=log, stderr=subprocess.STDOUT).returncode:
                sys.stderr.write(log_path.read_text()[-5000:])
                raise SystemExit(f"installing {' '.join(step)} failed (log: {log_path})")
    marker.write_text(torch_spec)
    return _env_python()


# ---------------------------------------------------------------------------- data
def _mnist(data_dir: Path, part: str) -> np.ndarray:
    """MNIST images of ``part`` ("train" or "t10k") as float grey levels in [0, 1], (n, 28, 28)."""
    return read_idx(data_dir / "mnist" / f"{part}-images-idx3-ubyte.gz").astype(np.float32) / 255


def load_data(name: str, data_dir: Path, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
    """(train, test, description); samples in {0,1}, float32, shape (n, n_visible)."""
    if name == "mnist":
        # The official split; grey levels binarised at 0.5 (boltzkit's load_mnist default).
        train, test = ((_mnist(data_dir, p) > 0.5).reshape(-1, 784) for p in ("train", "t10k"))
        desc = "MNIST 28x28, pixel > 0.5, official split 60000/10000"
    elif name == "mnist8":
        # The 2-pixel border is nearly always blank: crop 28 -> 24, average 3x3 blocks -> 8x8.
        def pool(x):
            return x[:, 2:26, 2:26].reshape(-1, 8, 3, 8, 3).mean((2, 4)).reshape(-1, 64) > 0.5
        train, test = pool(_mnist(data_dir, "train")), pool(_mnist(data_dir, "t10k"))
        desc = "MNIST cropped to 24x24, 3x3 average-pooled to 8x8, > 0.5, official split 60000/10000"
    elif name == "hgd64":
        import gzip

        with gzip.open(data_dir / "human_genome_805snp" / "805_SNP_1000G_real.hapt.gz", "rt") as f:
            x = np.array([line.split()[2:] for line in f], dtype=np.float32)
        p = x.mean(0)
        cols = np.sort(np.argsort(-(p * (1 - p)), kind="stable")[:64])  # the 64 most variable SNPs
        x = x[:, cols]
        perm = np.random.default_rng(seed).permutation(len(x))
        n_test = len(x) // 5
        train, test = x[np.sort(perm[n_test:])], x[np.sort(perm[:n_test])]
        desc = f"human genome 805 SNPs: the 64 most variable, random 80/20 split (seed {seed})"
    else:
        raise SystemExit(f"unknown data set {name!r}")
    return train.astype(np.float32), test.astype(np.float32), desc


# ---------------------------------------------------------------------------- configurations
@dataclass
class Config:
    name: str
    data: str
    n_hidden: int
    batch_size: int = 500
    n_chains: int = 500
    gibbs_steps: int = 10
    learning_rate: float = 0.01
    updates: int = 2000
    ais_chains: int = 1000
    ais_steps: int = 5000
    target: float = 1.0  # acceptance target of the issue: boltzkit / rbms updates/s

    def flops_per_update(self, n_visible: int) -> float:
        b, c, k = self.batch_size, self.n_chains, self.gibbs_steps
        return 2.0 * n_visible * self.n_hidden * (2 * k * c + 2 * b + 2 * c)


def configs(args) -> list[Config]:
    small = Config("small", args.small_data, 64, updates=2000, ais_chains=1000, ais_steps=5000,
                   target=3.0)
    mnist = Config("mnist", "mnist", 500, updates=500, ais_chains=500, ais_steps=2000, target=1.0)
    chosen = {"small": [small], "mnist": [mnist], "both": [small, mnist]}[args.config]
    for c in chosen:
        if args.quick:
            c.updates, c.ais_chains, c.ais_steps = max(c.updates // 10, 50), 200, 500
        if args.updates is not None:
            c.updates = args.updates
        if args.n_hidden is not None:
            c.n_hidden = args.n_hidden
        if args.ais_chains is not None:
            c.ais_chains = args.ais_chains
        if args.ais_steps is not None:
            c.ais_steps = args.ais_steps
    return chosen


# ---------------------------------------------------------------------------- timing
@dataclass
class Timing:
    """Time stamps taken right after each update, and what they give in the steady state."""

    stamps: np.ndarray  # wall clock (time.perf_counter) after each update
    cpu: np.ndarray  # CPU time of the process, all threads (time.process_time), after each update
    warmup: int
    load: tuple[float, float] = (float("nan"), float("nan"))  # 1-min load average before, after

    @property
    def window(self) -> np.ndarray:
        return np.diff(self.stamps[self.warmup - 1:])  # durations of updates warmup+1 .. N

    @property
    def rate(self) -> float:
        """Updates/s over the steady-state window (mean)."""
        w = self.window
        return len(w) / w.sum()

    @property
    def cpu_rate(self) -> float:
        """Updates per CPU-second over the same window. With one thread this is close to the
        updates/s of an idle machine even when other processes compete for the cores; with more
        threads it also counts the time threads spend waiting at OpenMP barriers."""
        return (len(self.stamps) - self.warmup) / (self.cpu[-1] - self.cpu[self.warmup - 1])

    @property
    def median_rate(self) -> float:
        """1 / median update time: robust to the odd preempted update."""
        return 1.0 / float(np.median(self.window))


@dataclass
class Run:
    library: str
    timings: list[Timing] = field(default_factory=list)
    model: RBM | None = None
    info: dict = field(default_factory=dict)

    def best(self) -> Timing:
        # Another process can only slow a run down: the fastest repeat is the least disturbed.
        return max(self.timings, key=lambda t: t.rate)


def warmup_of(updates: int, requested: int | None) -> int:
    w = requested if requested is not None else max(5, updates // 10)
    if not 1 <= w < updates - 1:
        raise SystemExit(f"--warmup must be in [1, updates-2]; got {w} for {updates} updates")
    return w


def run_rbms(python: Path, cfg: Config, train: np.ndarray, check: np.ndarray, threads: int,
             seed: int, warmup: int, tmp: Path) -> tuple[Timing, RBM, dict]:
    """Train with rbms in its environment; the model comes back as a boltzkit RBM.

    rbms' BBRBM has ``weight_matrix`` of shape (n_visible, n_hidden), ``vbias``, ``hbias`` and
    E(v, h) = -v.W.h - vbias.v - hbias.h: boltzkit's layout and convention. The conversion is
    checked on ``check`` samples: rbms' own free energies must match boltzkit's.
    """
    data_file, out_file, log_file = tmp / "train.npz", tmp / "rbms_out.npz", tmp / "rbms.log"
    if not data_file.exists():
        np.savez(data_file, train=train.astype(np.uint8), check=check.astype(np.uint8))
    cmd = [str(python), str(WORKER), "--data", str(data_file), "--out", str(out_file),
           "--n-hidden", str(cfg.n_hidden), "--batch-size", str(cfg.batch_size),
           "--n-chains", str(cfg.n_chains), "--gibbs-steps", str(cfg.gibbs_steps),
           "--learning-rate", str(cfg.learning_rate), "--updates", str(cfg.updates),
           "--threads", str(threads), "--seed", str(seed)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    before = os.getloadavg()[0]
    with open(log_file, "w") as log:
        done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    after = os.getloadavg()[0]
    if done.returncode != 0:
        sys.stderr.write(log_file.read_text()[-5000:])
        raise SystemExit(f"rbms worker failed (exit {done.returncode})")
    r = np.load(out_file)
    model = RBM(torch.from_numpy(r["weights"]), torch.from_numpy(r["visible_bias"]),
                torch.from_numpy(r["hidden_bias"]))
    ours = model.free_energy(torch.from_numpy(check.astype(np.float32))).numpy()
    gap = float(np.abs(ours - r["check_free_energy"]).max())
    if gap > 1e-3 * max(1.0, float(np.abs(ours).max())):
        raise SystemExit(f"rbms -> boltzkit conversion: free energies differ by {gap:g}")
    timing = Timing(r["stamps"], r["cpu"], warmup, (before, after))
    return timing, model, json.loads(str(r["info"]))


def run_boltzkit(cfg: Config, train: np.ndarray, seed: int, warmup: int) -> tuple[Timing, RBM]:
    stamps: list[float] = []
    cpu: list[float] = []

    def on_update(_update: int) -> None:
        stamps.append(time.perf_counter())
        cpu.append(time.process_time())

    est = BernoulliRBM(n_hidden=cfg.n_hidden, method="pcd", n_updates=cfg.updates,
                       batch_size=cfg.batch_size, n_chains=cfg.n_chains,
                       gibbs_steps=cfg.gibbs_steps, learning_rate=cfg.learning_rate,
                       optimizer="sgd", centered=True, random_state=seed, out=None)
    before = os.getloadavg()[0]
    est.fit(train, on_update=on_update)
    after = os.getloadavg()[0]
    return Timing(np.asarray(stamps), np.asarray(cpu), warmup, (before, after)), est.model_


def matmul_reference(cfg: Config, n_visible: int, repeats: int = 20) -> float:
    """Seconds for the matmuls of one update alone (same shapes and layouts as the trainer)."""
    g = torch.Generator().manual_seed(0)
    nv, nh, b, c = n_visible, cfg.n_hidden, cfg.batch_size, cfg.n_chains
    w = torch.randn(nv, nh, generator=g) * 0.01
    vb, hb = torch.zeros(nv), torch.zeros(nh)
    v_data = (torch.rand(b, nv, generator=g) < 0.5).float()
    v = (torch.rand(c, nv, generator=g) < 0.5).float()

    def once():
        x = v
        for _ in range(cfg.gibbs_steps):
            h = torch.addmm(hb, x, w)
            x = torch.addmm(vb, h, w.T)
        h_d, h_m = torch.addmm(hb, v_data, w), torch.addmm(hb, x, w)
        return v_data.T @ h_d - x.T @ h_m

    for _ in range(3):
        once()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        once()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def profile_boltzkit(cfg: Config, train: np.ndarray, seed: int, n: int = 200) -> str:
    """torch.profiler table of ``n`` boltzkit updates (after a warm-up), by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    x = torch.as_tensor(train)
    conf = TrainingConfig(method="pcd", n_updates=10 ** 9, batch_size=cfg.batch_size,
                          n_chains=cfg.n_chains, gibbs_steps=cfg.gibbs_steps,
                          learning_rate=cfg.learning_rate, seed=seed)
    model = RBM.init_from_data(x, cfg.n_hidden, generator=torch.Generator().manual_seed(seed))
    trainer = Trainer(model, x, conf)
    for _ in range(20):
        trainer.step()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        t0 = time.perf_counter()
        for _ in range(n):
            trainer.step()
        wall = time.perf_counter() - t0
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=18)
    return f"{n} updates, {1e3 * wall / n:.3f} ms/update under the profiler\n{table}"


# ---------------------------------------------------------------------------- evaluation
def evaluate(model: RBM, test: torch.Tensor, cfg: Config, seed: int) -> dict:
    ais = log_partition(model, "ais", n_chains=cfg.ais_chains, n_steps=cfg.ais_steps,
                        n_runs=10, seed=seed)
    out = {"log_z_ais": ais.value, "log_z_ais_error": ais.error,
           "test_ll_ais": log_likelihood(model, test, ais.value)[0],
           "max_abs_weight": float(model.weights.abs().max())}
    if min(model.n_visible, model.n_hidden) <= EXACT_MAX_UNITS:
        exact = log_partition(model, "exact").value
        out.update(log_z_exact=exact, test_ll_exact=log_likelihood(model, test, exact)[0])
    return out


# ---------------------------------------------------------------------------- main
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=("small", "mnist", "both"), default="both")
    p.add_argument("--threads", type=int, default=2,
                   help="torch.set_num_threads and OMP_NUM_THREADS in both processes (default 2)")
    p.add_argument("--updates", type=int, help="training updates (default 2000 small, 500 mnist)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 1/10 of the updates (at least 50), AIS 200 chains x 500")
    p.add_argument("--repeats", type=int, default=1,
                   help="train each library this many times, alternating; the fastest is kept")
    p.add_argument("--warmup", type=int,
                   help="updates left out of the timing (default max(5, updates/10))")
    p.add_argument("--n-hidden", type=int, help="override n_hidden (<= 20 adds the exact log Z)")
    p.add_argument("--small-data", choices=("mnist8", "hgd64"), default="mnist8",
                   help="data of the small configuration (default mnist8: MNIST pooled to 8x8)")
    p.add_argument("--data-dir", type=Path, default=SHARED_DATA)
    p.add_argument("--ais-chains", type=int)
    p.add_argument("--ais-steps", type=int)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action="store_true",
                   help="also print a torch.profiler table of boltzkit's loop")
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    python = ensure_rbms_env()
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                if ln.startswith("model name")), "?") if Path("/proc/cpuinfo").exists() else "?"
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs ({cpu}); "
          f"load average {os.getloadavg()[0]:.2f}")
    if os.getloadavg()[0] > 0.5:
        print("WARNING: other processes are using the CPU; with OpenMP threads, timings can be "
              "several times too slow (compare the load averages printed with each run).")

    results = []
    for cfg in configs(args):
        train_np, test_np, desc = load_data(cfg.data, args.data_dir, args.seed)
        nv = train_np.shape[1]
        warmup = warmup_of(cfg.updates, args.warmup)
        print(f"\n== {cfg.name}: {nv} x {cfg.n_hidden}, batch {cfg.batch_size}, "
              f"{cfg.n_chains} chains, PCD-{cfg.gibbs_steps}, SGD lr {cfg.learning_rate}, "
              f"centred, {cfg.updates} updates (timing after {warmup})\n   data: {desc}; "
              f"train {train_np.shape}, test {test_np.shape}", flush=True)
        runs = {"rbms": Run("rbms"), "boltzkit": Run("boltzkit")}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                t, model, info = run_rbms(python, cfg, train_np, test_np[:200], args.threads,
                                          args.seed, warmup, Path(tmp))
                runs["rbms"].timings.append(t)
                runs["rbms"].model, runs["rbms"].info = model, info
                print(f"   [{r + 1}/{args.repeats}] rbms     {t.rate:8.2f} updates/s "
                      f"(median {t.median_rate:.2f}; load {t.load[0]:.1f} -> {t.load[1]:.1f})",
                      flush=True)
                t, model = run_boltzkit(cfg, train_np, args.seed, warmup)
                runs["boltzkit"].timings.append(t)
                runs["boltzkit"].model = model
                print(f"   [{r + 1}/{args.repeats}] boltzkit {t.rate:8.2f} updates/s "
                      f"(median {t.median_rate:.2f}; load {t.load[0]:.1f} -> {t.load[1]:.1f})",
                      flush=True)
        flops = cfg.flops_per_update(nv)
        t_mm = matmul_reference(cfg, nv)
        test = torch.as_tensor(test_np)
        # Reference point: the independent-site model (both libraries' initial visible bias).
        indep = independent_site_model(torch.as_tensor(train_np))
        indep_ll = log_likelihood(indep, test, log_partition(indep, "exact").value)[0]
        row = {"config": cfg.name, "data": desc, "n_visible": nv, "n_hidden": cfg.n_hidden,
               "updates": cfg.updates, "threads": args.threads, "flops_per_update": flops,
               "matmul_gflops": flops / t_mm / 1e9, "target": cfg.target,
               "independent_site_test_ll": indep_ll, "rbms_info": runs["rbms"].info}
        for name, run in runs.items():
            best = run.best()
            print(f"   AIS ({cfg.ais_chains} chains x {cfg.ais_steps} temperatures) on {name} ...",
                  flush=True)
            row[name] = {"updates_per_s": best.rate, "median_updates_per_s": best.median_rate,
                         "updates_per_cpu_s": best.cpu_rate,
                         "all_updates_per_s": [t.rate for t in run.timings],
                         "gflops": flops * best.rate / 1e9, "load": best.load,
                         **evaluate(run.model, test, cfg, args.seed)}
        row["ratio"] = row["boltzkit"]["updates_per_s"] / row["rbms"]["updates_per_s"]
        if args.profile:
            row["profile"] = profile_boltzkit(cfg, train_np, args.seed)
        results.append(row)
        print_table([row])

    print("\n## Summary\n")
    print_table(results)
    for row in results:
        if "profile" in row:
            print(f"\n### boltzkit profile, {row['config']}\n{row['profile']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))


def print_table(rows: list[dict]) -> None:
    head = ("| config | library | updates/s | per CPU-s | ratio (target) | GFLOP/s (matmul-only) "
            "| test LL (AIS) | log Z (AIS) | log Z exact | max abs W |")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for row in rows:
        for lib in ("rbms", "boltzkit"):
            r = row[lib]
            ratio = (f"{row['ratio']:.2f}x (>= {row['target']:g}x)" if lib == "boltzkit"
                     else "")
            exact = (f"{r['log_z_exact']:.3f} (LL {r['test_ll_exact']:.3f})"
                     if "log_z_exact" in r else "-")
            print(f"| {row['config']} {row['n_visible']}x{row['n_hidden']} | {lib} | "
                  f"{r['updates_per_s']:.2f} | {r['updates_per_cpu_s']:.2f} | {ratio} | "
                  f"{r['gflops']:.1f} ({row['matmul_gflops']:.1f}) | {r['test_ll_ais']:.3f} ± "
                  f"{r['log_z_ais_error']:.2g} | {r['log_z_ais']:.3f} | {exact} | "
                  f"{r['max_abs_weight']:.3g} |")
    for row in rows:
        print(f"{row['config']}: independent-site model test LL {row['independent_site_test_ll']:.3f};"
              f" {row['threads']} threads; load average during the kept runs: "
              + ", ".join(f"{lib} {row[lib]['load'][0]:.1f}->{row[lib]['load'][1]:.1f}"
                          for lib in ("rbms", "boltzkit")))


if __name__ == "__main__":
    main()
