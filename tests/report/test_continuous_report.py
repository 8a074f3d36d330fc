"""Real-valued runs (a Gaussian RBM) through ``boltzkit sample`` and ``boltzkit report``: samples
written in the data's units and the data file's layout (the constant column put back, the header
row kept), grey-level pictures, and every report section shown or left out with a note.

Two small runs, trained through the command line: a header CSV of 6 correlated Gaussian features
far from zero mean plus one constant column, and 4x4 "images" (.npy of shape (n, 4, 4)) of two
prototypes with noise and one constant pixel.
"""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest
from matplotlib.image import imread
from typer.testing import CliRunner

from boltzkit.cli.main import app
from boltzkit.errors import BoltzkitError
from boltzkit.report import figures
from boltzkit.report.html import ReportOptions, write_report
from boltzkit.report.images import (STANDARD_RANGE, data_range, grey_levels, image_grid, png_scale,
                                    save_samples, standard_scores)
from boltzkit.report.samples import write_run_samples

pytestmark = pytest.mark.usefixtures("single_thread")  # tiny models: see conftest

runner = CliRunner()
COLUMNS = ["alpha", "beta", "gamma", "delta", "const", "eps", "zeta"]
CONSTANT_COLUMN, CONSTANT_VALUE = 4, 2.5
MEANS = np.array([10.0, -5.0, 100.0, 0.5, 3.0, 7.0])
STDS = np.array([1.0, 2.0, 10.0, 0.1, 0.5, 3.0])
IMAGE_SHAPE, CONSTANT_PIXEL, PIXEL_VALUE = (4, 4), 5, 0.25
TRAIN = ["--model", "gaussian-rbm", "--hidden", "4", "--updates", "60", "--batch-size", "50",
         "--chains", "50", "--lr", "0.01", "--checkpoints", "4", "--seed", "0", "--threads", "1",
         "--quiet"]
# small report settings: log Z is exact (4 hidden units), so no AIS runs
SMALL = ReportOptions(curve_points=3, n_samples=100, gibbs_steps=20, seed=0, tree_points=20)


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def _table(n: int = 200, seed: int = 0) -> np.ndarray:
    """Rows of 6 features with a strong common factor (correlations about 0.8), in data units,
    with the constant column inserted at CONSTANT_COLUMN."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal((n, 1))
    z = 0.9 * factor + np.sqrt(1 - 0.81) * rng.standard_normal((n, 6))
    x = MEANS + STDS * z
    return np.insert(x, CONSTANT_COLUMN, CONSTANT_VALUE, axis=1)


def _images(n: int = 200, seed: int = 0) -> np.ndarray:
    """Grey levels in [0, 1] of shape (n, 4, 4): a vertical or a horizontal bar plus noise; the
    pixel CONSTANT_PIXEL is PIXEL_VALUE in every image."""
    rng = np.random.default_rng(seed)
    bars = np.zeros((2, *IMAGE_SHAPE))
    bars[0, :, 1], bars[1, 2, :] = 0.9, 0.9
    x = np.clip(bars[np.arange(n) % 2] + 0.1 * rng.standard_normal((n, *IMAGE_SHAPE)), 0.0, 1.0)
    x.reshape(n, -1)[:, CONSTANT_PIXEL] = PIXEL_VALUE
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def table_run(tmp_path_factory, single_thread_module):
    folder = tmp_path_factory.mktemp("real_table")
    data = folder / "table.csv"
    rows = _table()
    data.write_text(",".join(COLUMNS) + "\n"
                    + "\n".join(",".join(f"{v:.6f}" for v in row) for row in rows) + "\n")
    run = folder / "run.h5"
    r = invoke("train", data, "--out", run, "--test-fraction", "0.2", *TRAIN)
    assert r.exit_code == 0, r.output
    return run, rows


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, single_thread_module):
    folder = tmp_path_factory.mktemp("real_images")
    data = folder / "images.npy"
    np.save(data, _images())
    run = folder / "run.h5"
    r = invoke("train", data, "--out", run, *TRAIN)
    assert r.exit_code == 0, r.output
    return run


# ------------------------------------------------------------------------------ images.py
def test_grey_levels_clip_to_the_range_given():
    x = np.array([[-1.0, 0.0, 0.5, 1.0, 2.0]])
    np.testing.assert_allclose(grey_levels(x, (0.0, 1.0)), [[0.0, 0.0, 0.5, 1.0, 1.0]])
    np.testing.assert_allclose(grey_levels(x, STANDARD_RANGE), [[2 / 6, 3 / 6, 3.5 / 6, 4 / 6, 5 / 6]])
    with pytest.raises(BoltzkitError, match="value_range"):
        grey_levels(x, (1.0, 1.0))
    with pytest.raises(BoltzkitError, match="finite"):
        grey_levels(np.array([[np.nan]]), (0.0, 1.0))
    assert data_range(np.array([[0.2, 0.7], [0.4, 0.3]])) == (0.2, 0.7)
    assert data_range(np.full((3, 2), 4.0)) == (3.5, 4.5)  # no spread: a unit range around it


def test_real_samples_files_keep_their_values(tmp_path):
    x = np.array([[1.5, -2.25e-7, 1234567.0], [0.0, 3.0, -1.0]])
    save_samples(tmp_path / "s.npy", x, None, (0.0, 1.0))
    save_samples(tmp_path / "s.txt", x, None, (0.0, 1.0))
    back = np.load(tmp_path / "s.npy")
    assert back.dtype == np.float64
    np.testing.assert_array_equal(back, x)
    assert (tmp_path / "s.txt").read_text().splitlines() == ["1.5 -2.25e-07 1.23457e+06", "0 3 -1"]
    path = save_samples(tmp_path / "s.png", np.linspace(0, 1, 16).reshape(1, 16), (4, 4), (0.0, 1.0))
    grid = image_grid(np.zeros((1, 16)), (4, 4))
    scale = png_scale(grid.shape, keep_aspect=True)
    rgb = imread(path)[..., :3]
    assert rgb.shape[:2] == (grid.shape[0] * scale[0], grid.shape[1] * scale[1])
    first, last = rgb[scale[0] + 1, scale[1] + 1], rgb[4 * scale[0] + 1, 4 * scale[1] + 1]
    assert np.allclose(first, 1.0) and np.allclose(last, 0.0)  # low white, high black


def test_standard_scores_use_the_space_or_the_reference():
    from boltzkit.models.visible import REAL_SPACE, real_space

    rows = np.array([[1.0, 10.0], [3.0, 10.0]])
    np.testing.assert_allclose(standard_scores(real_space([2.0, 0.0], [1.0, 5.0]), rows),
                               [[-1.0, 2.0], [1.0, 2.0]])
    # no standardisation in the space: z-scores of the reference; no spread: only centred
    np.testing.assert_allclose(standard_scores(REAL_SPACE, rows), [[-1.0, 0.0], [1.0, 0.0]])


def test_likelihood_curve_colours_each_baseline():
    lines = {"independent-site (train)": -3.0, "independent-site (test)": -3.5,
             "full-covariance (train)": 1.0, "full-covariance (test)": 0.5}
    ax = figures.likelihood_curve([1, 10], [-2.0, 0.0], [-2.5, -0.5], lines).axes[0]
    drawn = {line.get_label(): line for line in ax.get_lines() if line.get_label() in lines}
    assert set(drawn) == set(lines)
    color = {name: line.get_color() for name, line in drawn.items()}
    assert color["independent-site (train)"] == color["independent-site (test)"]
    assert color["full-covariance (train)"] == color["full-covariance (test)"]
    assert color["independent-site (train)"] != color["full-covariance (train)"]
    assert [color["independent-site (train)"], color["full-covariance (train)"]] == ["0.4", "#8c564b"]
    style = {name: line.get_linestyle() for name, line in drawn.items()}
    assert style["independent-site (train)"] == style["full-covariance (train)"] \
        != style["independent-site (test)"]


# ------------------------------------------------------------------------------ boltzkit sample
def test_sample_writes_data_units_in_the_file_layout(table_run, tmp_path):
    run, rows = table_run
    r = invoke("sample", run, "--out", tmp_path / "s.npy", "--n", "500", "--gibbs-steps", "30",
               "--threads", "1")
    assert r.exit_code == 0, r.output
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (500, len(COLUMNS)) and s.dtype == np.float64
    assert (s[:, CONSTANT_COLUMN] == CONSTANT_VALUE).all()
    kept = np.delete(np.arange(len(COLUMNS)), CONSTANT_COLUMN)
    # means in the data's units: the standard error of a mean of 500 samples is 0.045 std, and the
    # model after 60 updates starts from, and stays near, the data's means: 0.3 std is 6 errors
    gap = np.abs(s[:, kept].mean(0) - rows[:, kept].mean(0)) / rows[:, kept].std(0)
    assert gap.max() < 0.3, gap
    # the spread is that of the data, not of standardised values (the features' stds span 0.1-10)
    ratio = s[:, kept].std(0) / rows[:, kept].std(0)
    assert ((ratio > 0.5) & (ratio < 2.0)).all(), ratio


def test_sample_to_csv_txt_and_png(table_run, tmp_path):
    run, _ = table_run
    for name in ("s.csv", "s.tsv", "s.txt", "s.png"):
        r = invoke("sample", run, "--out", tmp_path / name, "--n", "40", "--gibbs-steps", "10",
                   "--threads", "1")
        assert r.exit_code == 0, r.output
    for name, delimiter in (("s.csv", ","), ("s.tsv", "\t")):
        with open(tmp_path / name, newline="") as f:
            table = list(csv.reader(f, delimiter=delimiter))
        assert table[0] == COLUMNS and len(table) == 41
        values = np.array(table[1:], dtype=float)
        assert (values[:, CONSTANT_COLUMN] == CONSTANT_VALUE).all()
    txt = np.loadtxt(tmp_path / "s.txt")
    assert txt.shape == (40, len(COLUMNS)) and (txt[:, CONSTANT_COLUMN] == CONSTANT_VALUE).all()
    picture = imread(tmp_path / "s.png")[..., 0]
    # a raster of the model's 6 columns, one row of pixels per sample, scaled up
    assert picture.shape == (40 * png_scale((40, 6), False)[0], 6 * png_scale((40, 6), False)[1])
    assert len(np.unique(picture)) > 10  # grey levels, not black and white


def test_sample_sampler_choice_and_refused_suffix(table_run, tmp_path):
    run, _ = table_run
    written = write_run_samples(run, tmp_path / "l.npy", n=20, gibbs_steps=5, sampler="gibbs-langevin",
                                sampler_settings={"langevin_steps": 3, "langevin_step_size": None})
    assert written == "20 samples" and np.load(tmp_path / "l.npy").shape == (20, len(COLUMNS))
    r = invoke("sample", run, "--out", tmp_path / "s.fasta", "--n", "5")
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "real values" in r.output
    with pytest.raises(BoltzkitError, match="--sampler"):
        write_run_samples(run, tmp_path / "m.npy", n=5, sampler="metropolis")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["l.npy"]


def test_sample_images_whole_with_the_constant_pixel(image_run, tmp_path):
    for name in ("s.npy", "s.png"):
        r = invoke("sample", image_run, "--out", tmp_path / name, "--n", "9", "--gibbs-steps", "10",
                   "--threads", "1")
        assert r.exit_code == 0, r.output
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (9, 16) and (s[:, CONSTANT_PIXEL] == PIXEL_VALUE).all()
    grid = image_grid(np.zeros((9, 16)), IMAGE_SHAPE)  # 3 x 3 images of the file's 4 x 4 pixels
    scale = png_scale(grid.shape, keep_aspect=True)
    assert imread(tmp_path / "s.png").shape[:2] == (grid.shape[0] * scale[0], grid.shape[1] * scale[1])


# ------------------------------------------------------------------------------ boltzkit report
def _page(path) -> tuple[str, list[str]]:
    text = path.read_text()
    return text, re.findall(r"<h2>(.*?)</h2>", text)


def test_report_of_a_real_table_run(table_run, tmp_path):
    run, _ = table_run
    page, titles = _page(write_report(run, tmp_path / "r.html", SMALL))
    assert titles == ["Summary", "Training curve", "Samples", "PCA projections", "Moments"]
    assert "full-covariance, test" in page and "independent-site, test" in page
    assert "the independent-site model and the full-covariance model" in page
    assert "from Gaussian noise starts" in page and "uniformly random" not in page
    assert "x in standardised values" in page and "Standardised values, -3 white to 3 black" in page
    assert "the data&#x27;s means are about 0 by construction" in page
    for section in ("weights", "free-energy landscape", "TreeRBM hierarchy"):
        assert f"<li>no {section} section: " in page, section
    assert "Traceback" not in page


def test_report_of_a_real_image_run(image_run, tmp_path):
    page, titles = _page(write_report(image_run, tmp_path / "r.html", SMALL))
    assert {"Samples", "PCA projections", "Moments", "Training curve"} <= set(titles)
    # the image grids are drawn with the file's 16 pixels (image_grid refuses 15 columns for 4 x 4),
    # on the range of the data's grey levels
    low, high = data_range(_images())
    assert (f"Grey levels in the data&#x27;s units, {low:.3g} white to {high:.3g} black"
            in page), re.findall(r"Grey levels[^.]*", page)
