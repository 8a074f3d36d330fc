"""Thread count of a benchmark process, fixed before torch is imported.

OpenMP and MKL read ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` once, when torch is first imported,
so a benchmark calls :func:`threads_from_argv` at the top of its module, before ``import torch``,
and later passes the same count to ``torch.set_num_threads`` and to any peer's process.
"""

from __future__ import annotations

import os
from pathlib import Path

#: ../shared/data beside the repository (the datasets the benchmarks read)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def threads_from_argv(argv: list[str], default: int) -> int:
    """The value of ``--threads N`` / ``--threads=N`` in ``argv`` (else ``default``), exported as
    ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``."""
    threads = default
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            threads = int(argv[i + 1])
        elif a.startswith("--threads="):
            threads = int(a.split("=", 1)[1])
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    return threads
