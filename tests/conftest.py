"""Shared fixtures of the test suite: random RBMs, independent brute-force references, MNIST.

The references here are written from the definitions (joint energy, Boltzmann weights) and
never call the library's own sums, so that a test compares two independent computations.
Everything exact is float64.
"""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest
import torch

from boltzkit.models.rbm import RBM
from boltzkit.models.units import BERNOULLI, SPIN, UnitType

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST_IMAGES = SHARED_DATA / "mnist" / "t10k-images-idx3-ubyte.gz"

UNITS = {"bernoulli": BERNOULLI, "spin": SPIN}


# --------------------------------------------------------------------------- threads
@pytest.fixture
def single_thread():
    """Run a test on one intra-op thread (``pytestmark = pytest.mark.usefixtures("single_thread")``).

    The tests of tiny models are thousands of small tensor operations: a second OpenMP thread
    brings nothing there, and on a loaded machine its barrier waits cost milliseconds per op.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def single_thread_module():
    """The same for module-scoped fixtures (set up before any function-scoped fixture)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# --------------------------------------------------------------------------- random models
def random_rbm(n_visible: int, n_hidden: int, units: UnitType = BERNOULLI, scale: float = 1.0,
               seed: int = 0, dtype: torch.dtype = torch.float64) -> RBM:
    """An RBM with i.i.d. N(0, scale^2) weights and biases (non-trivial: every term matters)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_visible, n_hidden, generator=g, dtype=torch.float64) * scale
    b = torch.randn(n_visible, generator=g, dtype=torch.float64) * scale
    c = torch.randn(n_hidden, generator=g, dtype=torch.float64) * scale
    return RBM(w.to(dtype), b.to(dtype), c.to(dtype), units, units)


@pytest.fixture
def make_rbm() -> Callable[..., RBM]:
    """Factory ``make_rbm(n_visible, n_hidden, units="bernoulli"|UnitType, scale, seed, dtype)``."""

    def make(n_visible: int, n_hidden: int, units: str | UnitType = "bernoulli",
             scale: float = 1.0, seed: int = 0, dtype: torch.dtype = torch.float64) -> RBM:
        u = UNITS[units] if isinstance(units, str) else units
        return random_rbm(n_visible, n_hidden, u, scale, seed, dtype)

    return make


# --------------------------------------------------------------------------- brute-force references
def all_configs(n: int, units: UnitType) -> torch.Tensor:
    """All 2**n configurations by itertools (independent of UnitType.enumerate), float64."""
    rows = list(itertools.product((units.low, units.high), repeat=n))
    return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), n)


def joint_energy(model: RBM, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """E(v, h) = -sum_ia v_i W_ia h_a - b.v - c.h written with einsum (not RBM.energy)."""
    w, b, c = (t.double() for t in (model.weights, model.visible_bias, model.hidden_bias))
    return -torch.einsum("ni,ia,na->n", v, w, h) - v @ b - h @ c


def brute_log_z(model: RBM) -> float:
    """log Z by summing exp(-E(v, h)) over every (v, h) pair, both layers enumerated."""
    vs = all_configs(model.n_visible, model.visible_units)
    hs = all_configs(model.n_hidden, model.hidden_units)
    v = vs.repeat_interleave(len(hs), 0)
    h = hs.repeat(len(vs), 1)
    return float(torch.logsumexp(-joint_energy(model, v, h), 0))


def brute_free_energy(model: RBM, v: torch.Tensor) -> torch.Tensor:
    """F(v) = -log sum_h exp(-E(v, h)) by enumerating the hidden layer, shape (batch,)."""
    hs = all_configs(model.n_hidden, model.hidden_units)
    vv = v.double().repeat_interleave(len(hs), 0)
    hh = hs.repeat(len(v), 1)
    return -torch.logsumexp(-joint_energy(model, vv, hh).reshape(len(v), len(hs)), 1)


def brute_visible_distribution(model: RBM) -> tuple[torch.Tensor, torch.Tensor]:
    """(states, p(states)) over all visible states, by double enumeration, float64."""
    vs = all_configs(model.n_visible, model.visible_units)
    f = brute_free_energy(model, vs)
    return vs, torch.softmax(-f, 0)


def state_index(x: torch.Tensor, units: UnitType) -> torch.Tensor:
    """Integer code of each row (first unit = most significant bit), matching all_configs."""
    bits = ((x.double() - units.low) / (units.high - units.low)).round().long()
    n = x.shape[1]
    return (bits * (1 << torch.arange(n - 1, -1, -1))).sum(1)


@pytest.fixture
def brute() -> SimpleNamespace:
    """The brute-force references as a namespace: ``brute.log_z(model)``, ``brute.configs(n, units)``..."""
    return SimpleNamespace(configs=all_configs, energy=joint_energy, log_z=brute_log_z,
                           free_energy=brute_free_energy, distribution=brute_visible_distribution,
                           index=state_index)


# --------------------------------------------------------------------------- small structured data
def structured_binary(n_rows: int, n_visible: int, seed: int = 0) -> torch.Tensor:
    """Rows drawn from two noisy prototypes (complementary stripes), float64 in {0,1}.

    A mixture, so that an RBM with hidden units is needed to fit it (correlations, not only means).
    """
    rng = np.random.default_rng(seed)
    proto = np.stack([np.arange(n_visible) % 2, 1 - np.arange(n_visible) % 2]).astype(float)
    proto[1, : n_visible // 3] = 1.0  # make the two modes unequal in their means too
    which = rng.random(n_rows) < 0.35
    rows = proto[which.astype(int)]
    flips = rng.random(rows.shape) < 0.15
    return torch.from_numpy(np.abs(rows - flips)).double()


@pytest.fixture
def structured_data() -> Callable[..., torch.Tensor]:
    return structured_binary


# --------------------------------------------------------------------------- MNIST
def _read_idx_images(path: Path) -> np.ndarray:
    """A tiny IDX reader (magic 0x00000803, big-endian sizes, uint8 pixels)."""
    raw = gzip.decompress(path.read_bytes())
    assert raw[:4] == bytes([0, 0, 8, 3]), "not an IDX file of uint8 images"
    n, rows, cols = np.frombuffer(raw[4:16], dtype=">u4")
    return np.frombuffer(raw[16:], dtype=np.uint8).reshape(n, rows * cols)


@pytest.fixture(scope="session")
def mnist_binary() -> torch.Tensor:
    """The first 2000 images of the MNIST test set, thresholded at 0.5 (pixel/255 > 0.5), float32.

    Read with the toolkit's loader when present, cross-checked with the local IDX reader.
    """
    if not MNIST_IMAGES.exists():
        pytest.skip(f"{MNIST_IMAGES} not available")
    local = (_read_idx_images(MNIST_IMAGES)[:2000] / 255.0 > 0.5).astype(np.float32)
    try:
        from boltzkit.data import load_binary
    except ImportError:
        return torch.from_numpy(local)
    samples = load_binary(MNIST_IMAGES, binarize="threshold", threshold=0.5).samples[:2000]
    assert np.array_equal(samples, local)
    return torch.from_numpy(np.ascontiguousarray(samples))


# --------------------------------------------------------------------------- small runs and maps
@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A tiny trained run, ``r.h5`` (bernoulli RBM, 3 hidden units, 4 updates), beside its data
    ``x.npy`` (60 rows of 8 bits), written through the CLI. Tests must not change the folder."""
    from typer.testing import CliRunner

    from boltzkit.cli.main import app

    folder = tmp_path_factory.mktemp("tiny_run")
    np.save(folder / "x.npy", (np.random.default_rng(0).random((60, 8)) < 0.5).astype(np.uint8))
    result = CliRunner().invoke(app, ["train", str(folder / "x.npy"), "-o", str(folder / "r.h5"),
                                      "--hidden", "3", "--updates", "4", "--batch-size", "20",
                                      "--chains", "20", "--gibbs-steps", "1", "--quiet"])
    assert result.exit_code == 0, result.output
    return folder / "r.h5"


@pytest.fixture
def toy_contact_map():
    """Ten sites with five contacts (0-5, 1-6, 2-8, 3-9 and 0-1) at a cutoff of 8 A."""
    from boltzkit.evaluation.contacts import ContactMap

    d = np.full((10, 10), 20.0)
    np.fill_diagonal(d, np.nan)
    for i, j in [(0, 5), (1, 6), (2, 8), (3, 9), (0, 1)]:
        d[i, j] = d[j, i] = 4.0
    return ContactMap(d, 8.0)
