"""plmDCA side by side with plmc: peak memory, CPU time and contact precision at L = 53, 82, 202.

Each fit runs as its own process on one thread under ``/usr/bin/time`` (GNU time): peak
resident memory, user and system CPU seconds.

* boltzkit: ``boltzkit train ALN --model potts-bm --method plm --threads 1`` (defaults: float32,
  identity reweighting at 0.8, lambda_h = lambda_J = 0.01 per effective sequence);
* plmc (``benchmarks/.envs/plmc/bin/plmc``, built single-threaded from debbiemarkslab/plmc, see
  benchmarks/README.md): ``-t 0.2`` (the same 80 % identity weights), ``-lh`` and ``-le`` = lambda
  x M_eff (plmc penalises the unnormalised sum, see boltzkit.training.plm), ``-o`` for the
  parameters;
* fit (``--tools fit``): :func:`boltzkit.training.plm.fit_plm` alone in a child process, its peak
  measured from the moment the alignment is read and weighted (the command's set-up left out).

Alignments (written once into ``--work`` as plain FASTA, rows with letters outside the 21-letter
protein alphabet left out so that both tools see the same rows):

* L = 53: PF00014_mgap6 (13600 x 53), contacts from PF00014_struct.dat;
* L = 82: the first 82 columns of PF00072_train=0.6 (29716 x 112), contacts of those columns;
* L = 202: no stored family has 202 columns. Two PF00072 domains side by side: rows 0..M-1
  (all 112 columns) next to rows M..2M-1 (first 90 columns), M = ``--rows-202`` (2000); no
  structure, so no precision.

Both tools' couplings are scored the same way (:func:`boltzkit.evaluation.contacts.frobenius_scores`:
zero-sum gauge, gap left out, APC; top-L pairs with j - i >= 5, contact < 8 Å).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/plm_memory.py [--lengths 53,82,202] [--tools boltzkit,plmc]

Prints one table and the ratios to plmc; ``--json FILE`` also writes the rows.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from boltzkit.data.msa import read_msa
from boltzkit.data.reweighting import sequence_weights
from boltzkit.evaluation.contacts import ContactMap, contact_precision, frobenius_scores, read_struct
from boltzkit.io import trajectory

ROOT = Path(__file__).resolve().parents[1]
MSA_DIR = ROOT.parent / "shared" / "data" / "msa"
PLMC = ROOT / "benchmarks" / ".envs" / "plmc" / "bin" / "plmc"
LETTERS = "-ACDEFGHIKLMNPQRSTVWY"
TIME = "/usr/bin/time"


@dataclass
class Case:
    length: int
    fasta: Path
    struct: Path | None
    sequences: int = 0
    m_eff: float = 0.0


def _read_fasta(path: Path) -> list[str]:
    records, current = [], []
    for line in gzip.open(path, "rt"):
        line = line.strip()
        if line.startswith(">"):
            if current:
                records.append("".join(current))
            current = []
        elif line:
            current.append(line.upper().replace(".", "-"))
    return records + (["".join(current)] if current else [])


def _valid(rows: list[str]) -> list[str]:
    allowed = set(LETTERS)
    return [r for r in rows if set(r) <= allowed]


def _write(path: Path, rows: list[str]) -> None:
    path.write_text("".join(f">s{k}\n{r}\n" for k, r in enumerate(rows)))


def prepare(length: int, work: Path, rows_202: int) -> Case:
    """The alignment of one case, written to ``work`` (see the module docstring)."""
    path = work / f"L{length}.fasta"
    if length == 53:
        rows, struct = _valid(_read_fasta(MSA_DIR / "PF00014" / "PF00014_mgap6.fasta.gz")), \
            MSA_DIR / "PF00014" / "PF00014_struct.dat.gz"
    elif length == 82:
        rows = [r[:82] for r in _valid(_read_fasta(MSA_DIR / "PF00072" / "PF00072_train=0.6.fasta.gz"))]
        struct = MSA_DIR / "PF00072" / "PF00072_struct.dat.gz"
    elif length == 202:
        full = _valid(_read_fasta(MSA_DIR / "PF00072" / "PF00072_train=0.6.fasta.gz"))
        rows, struct = [a + b[:90] for a, b in zip(full[:rows_202], full[rows_202:2 * rows_202])], None
    else:
        raise SystemExit(f"--lengths: {length} is not one of 53, 82, 202")
    _write(path, rows)
    msa = read_msa(path, alphabet="protein")
    weights = sequence_weights(msa, 0.8)
    return Case(length, path, struct, msa.n_sequences, float(weights.sum()))


def measure(command: list[str], log: Path, extra_env: dict | None = None) -> dict:
    """Run ``command`` on one thread under ``/usr/bin/time``: its peak RSS (MiB), user and system
    CPU seconds. (Not this process's ``wait4``: a child forked from here starts with this
    interpreter's resident pages, and Linux keeps that high-water mark across ``exec``.)"""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(extra_env or {}))
    timing = log.with_suffix(".time")
    with open(log, "w") as out:
        status = subprocess.call([TIME, "-f", "%M %U %S", "-o", str(timing), *command], stdout=out,
                                 stderr=subprocess.STDOUT, env=env)
    if status != 0:
        raise SystemExit(f"{command[0]} failed ({status}); see {log}")
    kib, user, system = timing.read_text().split()[-3:]
    return {"peak_mib": int(kib) / 1024, "user_s": float(user), "sys_s": float(system)}


def run_boltzkit(case: Case, work: Path, args) -> tuple[dict, torch.Tensor]:
    out = work / f"L{case.length}_boltzkit.h5"
    command = [sys.executable, "-m", "boltzkit", "train", str(case.fasta), "-o", str(out),
               "--model", "potts-bm", "--method", "plm", "--threads", "1", "--quiet", "--no-check",
               "--overwrite", "--lambda-h", str(args.lambda_h), "--lambda-j", str(args.lambda_j)]
    if args.max_iter:
        command += ["--updates", str(args.max_iter)]
    source = {"PYTHONPATH": str(args.boltzkit_src)} if args.boltzkit_src else None
    usage = measure(command, work / f"L{case.length}_boltzkit.log", source)
    return usage, trajectory.load_model(out).couplings.double()


# fit_plm alone in a child process: the peak resident memory of the fit (the high-water mark is
# reset once the alignment is read and weighted), its CPU time, the couplings for the precision
FIT_ALONE = """
import json, re, resource, sys, torch
from boltzkit.data.msa import read_msa
from boltzkit.data.reweighting import sequence_weights
from boltzkit.training.plm import fit_plm
fasta, lambda_h, lambda_j, max_iter, out = sys.argv[1:]
torch.set_num_threads(1)
msa = read_msa(fasta, alphabet="protein")
weights = sequence_weights(msa, 0.8)
open("/proc/self/clear_refs", "w").write("5")
before = resource.getrusage(resource.RUSAGE_SELF)
model = fit_plm(msa.sequences, "potts-bm", q=msa.q, weights=weights, lambda_h=float(lambda_h),
                lambda_J=float(lambda_j), max_iter=int(max_iter) or 10000)
after = resource.getrusage(resource.RUSAGE_SELF)
peak = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) / 1024
torch.save(model.couplings, out + ".pt")
json.dump({"peak_mib": peak, "user_s": after.ru_utime - before.ru_utime,
           "sys_s": after.ru_stime - before.ru_stime}, open(out + ".json", "w"))
"""


def run_fit_alone(case: Case, work: Path, args) -> tuple[dict, torch.Tensor]:
    """``fit_plm`` alone (tool ``fit``): what the pseudo-likelihood costs without the command's
    data loading and model set-up (reweighting, the template model's frequencies)."""
    out = work / f"L{case.length}_fit"
    command = [sys.executable, "-c", FIT_ALONE, str(case.fasta), str(args.lambda_h), str(args.lambda_j),
               str(args.max_iter), str(out)]
    source = {"PYTHONPATH": str(args.boltzkit_src)} if args.boltzkit_src else None
    measure(command, work / f"L{case.length}_fit.log", source)
    return json.loads(Path(str(out) + ".json").read_text()), torch.load(str(out) + ".pt").double()


def read_plmc_couplings(path: Path) -> torch.Tensor:
    """Couplings (L, L, q, q) from a plmc parameter file (``-o``; its layout in plmc's
    ``OutputParametersFull``: a header, weights, marginals, then e_ij for i < j)."""
    raw = path.read_bytes()
    length, q, n_seqs, n_skipped, _ = np.frombuffer(raw, np.int32, 5)
    offset = 20 + 5 * 4 + q + 4 * (n_seqs + n_skipped) + length + 4 * length
    pairs = length * (length - 1) // 2
    offset += 4 * 2 * length * q + 4 * pairs * q * q  # fi, hi, fij
    e = np.frombuffer(raw, np.float32, pairs * q * q, offset).reshape(pairs, q, q)
    couplings = torch.zeros(length, length, q, q, dtype=torch.float64)
    i, j = torch.triu_indices(length, length, 1)
    couplings[i, j] = torch.from_numpy(e.astype(np.float64))
    couplings[j, i] = couplings[i, j].transpose(1, 2)
    return couplings


def run_plmc(case: Case, work: Path, args) -> tuple[dict, torch.Tensor]:
    out = work / f"L{case.length}_plmc.params"
    command = [str(args.plmc), "-o", str(out), "-t", "0.2", "-lh", f"{args.lambda_h * case.m_eff:.6g}",
               "-le", f"{args.lambda_j * case.m_eff:.6g}", str(case.fasta)]
    if args.max_iter:
        command[1:1] = ["-m", str(args.max_iter)]
    log = work / f"L{case.length}_plmc.log"
    usage = measure(command, log)
    reported = [line for line in log.read_text().splitlines() if "Effective number" in line]
    usage["reported"] = reported[0].strip() if reported else ""
    return usage, read_plmc_couplings(out)


def precision(case: Case, couplings: torch.Tensor) -> float | None:
    if case.struct is None:
        return None
    full = read_struct(case.struct, threshold=8.0)
    contacts = ContactMap(full.distances[:case.length, :case.length], full.threshold, full.source)
    return contact_precision(frobenius_scores(couplings), contacts, min_separation=5)["L"]


def floor_mib() -> float:
    """Peak RSS of an interpreter that only imports torch and the training entry."""
    return measure([sys.executable, "-c", "import torch, boltzkit.training.run"],
                   Path(tempfile.mkdtemp()) / "floor.log")["peak_mib"]


TOOLS = {"boltzkit": run_boltzkit, "plmc": run_plmc, "fit": run_fit_alone}


def row(case: Case, tool: str, usage: dict, couplings: torch.Tensor) -> dict:
    return {"L": case.length, "M": case.sequences, "M_eff": round(case.m_eff, 1), "tool": tool,
            "peak_mib": round(usage["peak_mib"], 1), "user_s": round(usage["user_s"], 1),
            "sys_s": round(usage["sys_s"], 1), "precision_L": precision(case, couplings)}


def print_table(rows: list[dict], floor: float) -> None:
    print(f"{'L':>4} {'M':>6} {'M_eff':>8} {'tool':>9} {'peak MiB':>9} {'user s':>8} {'sys s':>7} {'prec@L':>7}")
    for r in rows:
        p = "-" if r["precision_L"] is None else f"{r['precision_L']:.3f}"
        print(f"{r['L']:>4} {r['M']:>6} {r['M_eff']:>8} {r['tool']:>9} {r['peak_mib']:>9} "
              f"{r['user_s']:>8} {r['sys_s']:>7} {p:>7}")
    print(f"\nagainst plmc (an interpreter that imports torch alone peaks at {floor:.0f} MiB):")
    for length in sorted({r["L"] for r in rows}):
        by_tool = {r["tool"]: r for r in rows if r["L"] == length}
        p = by_tool.get("plmc")
        for tool, b in by_tool.items():
            if p is None or tool == "plmc":
                continue
            cpu = (b["user_s"] + b["sys_s"]) / (p["user_s"] + p["sys_s"])
            print(f"  L = {length}, {tool} / plmc: peak memory {b['peak_mib'] / p['peak_mib']:.2f}x, "
                  f"CPU (user + sys) {cpu:.2f}x; {tool}'s system share {b['sys_s'] / (b['user_s'] + b['sys_s']):.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="53,82,202")
    parser.add_argument("--tools", default="boltzkit,plmc",
                        help="boltzkit (the train command), plmc, fit (fit_plm alone: peak and CPU of the fit only)")
    parser.add_argument("--rows-202", type=int, default=2000, help="sequences of the L = 202 case")
    parser.add_argument("--lambda-h", type=float, default=0.01, help="per effective sequence")
    parser.add_argument("--lambda-j", type=float, default=0.01, help="per effective sequence")
    parser.add_argument("--max-iter", type=int, default=0, help="cap both tools' iterations (0: their defaults)")
    parser.add_argument("--plmc", type=Path, default=PLMC)
    parser.add_argument("--boltzkit-src", type=Path, default=None,
                        help="run boltzkit from this src/ folder (e.g. an earlier commit's, for a before/after table)")
    parser.add_argument("--work", type=Path, default=None, help="folder for alignments and outputs")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    if "plmc" in args.tools and not args.plmc.exists():
        raise SystemExit(f"--plmc: {args.plmc} not found (build it: benchmarks/README.md, plm_memory.py)")
    work = args.work or Path(tempfile.mkdtemp(prefix="plm_memory_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for length in (int(x) for x in args.lengths.split(",")):
        case = prepare(length, work, args.rows_202)
        for tool in args.tools.split(","):
            usage, couplings = TOOLS[tool](case, work, args)
            rows.append(row(case, tool, usage, couplings))
            print(json.dumps(dict(rows[-1], **{k: v for k, v in usage.items() if k == "reported"})), flush=True)
    print()
    print_table(rows, floor_mib())
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
