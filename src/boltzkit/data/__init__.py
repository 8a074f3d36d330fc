"""boltzkit.data: read and check data files; binary samples always in the {0,1} convention.

Readers return NumPy arrays (binary matrices, images, haplotypes with their IDs, alignment codes,
tables of categorical columns coded per column, :mod:`boltzkit.data.table`; real-valued matrices
in the file's units, images as grey levels, :mod:`boltzkit.data.continuous`); the sequence weights
and frequencies of alignments are computed with torch in blocks (:mod:`boltzkit.data.reweighting`).
:mod:`boltzkit.data.specs` records how a run's data were read and split.
"""

from boltzkit.data.binary import BINARIZE_MODES, Dataset, load_binary, load_labels
from boltzkit.data.bundled import bundled_path, load_mnist
from boltzkit.data.continuous import ContinuousDataset, load_continuous
from boltzkit.data.idx import grey_levels, read_idx
from boltzkit.data.split import train_test_split

__all__ = ["BINARIZE_MODES", "ContinuousDataset", "Dataset", "bundled_path", "grey_levels",
           "load_binary", "load_continuous", "load_labels", "load_mnist", "read_idx",
           "train_test_split"]
