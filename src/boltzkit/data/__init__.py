"""boltzkit.data: read and check data files; binary samples always in the {0,1} convention.

Readers return NumPy arrays (binary matrices, images, haplotypes with their IDs, alignment codes,
tables of categorical columns coded per column, :mod:`boltzkit.data.table`); the sequence weights and
frequencies of alignments are computed with torch in blocks (:mod:`boltzkit.data.reweighting`).
:mod:`boltzkit.data.specs` records how a run's data were read and split.
"""

from boltzkit.data.binary import BINARIZE_MODES, Dataset, load_binary, load_labels
from boltzkit.data.bundled import bundled_path, load_mnist
from boltzkit.data.idx import read_idx
from boltzkit.data.split import train_test_split

__all__ = ["BINARIZE_MODES", "Dataset", "bundled_path", "load_binary", "load_labels", "load_mnist",
           "read_idx", "train_test_split"]
