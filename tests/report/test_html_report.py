"""The HTML report of small synthetic runs: sections, self-containment, numbers, atomic writes."""

from __future__ import annotations

import dataclasses

import base64
import io
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
import torch

import boltzkit
from boltzkit.evaluation.likelihood import log_likelihood
from boltzkit.evaluation.log_partition import log_partition
from boltzkit.io import trajectory
from boltzkit.report import html as report_html
from boltzkit.report.html import ReportOptions, Section, render_html, select_checkpoints, \
    write_report

IMAGE_SHAPE = (5, 5)
# the landscape and tree sections are tested once, on the image run (the tree is the slowest)
SMALL = ReportOptions(curve_points=4, ais_chains=20, ais_steps=20, ais_runs=4, n_samples=120,
                      gibbs_steps=20, seed=0, landscape=False, tree=False)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    # tiny matrices: on a busy 2-core machine a second intra-op thread only adds synchronisation
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class PageParser(HTMLParser):
    """Collects every tag with its attributes, and the text of the <h2> headings."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.h2: list[str] = []
        self._in_h2 = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_h2 = tag == "h2"
        if self._in_h2:
            self.h2.append("")

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False

    def handle_data(self, data):
        if self._in_h2:
            self.h2[-1] += data


def parse(text: str) -> PageParser:
    parser = PageParser()
    parser.feed(text)
    return parser


def bars_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Bars-and-stripes images with 3% flipped pixels; label "rows" or "columns"."""
    h, w = IMAGE_SHAPE
    images = np.zeros((n, h, w), dtype=np.uint8)
    labels = np.where(np.arange(n) % 2 == 1, "rows", "columns")
    for k in range(n):
        on = rng.random(h) < 0.5
        if k % 2:
            images[k][on, :] = 1
        else:
            images[k][:, on] = 1
    flip = rng.random(images.shape) < 0.03
    return np.where(flip, 1 - images, images).astype(np.uint8), labels


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A run trained through train_run on an image file with labels and a 25% test split."""
    from boltzkit.training.config import TrainingConfig
    from boltzkit.data.specs import DataSpec
    from boltzkit.training.run import train_run

    folder = tmp_path_factory.mktemp("image_run")
    images, labels = bars_images(240, np.random.default_rng(0))
    data = folder / "bars.npz"
    np.savez(data, samples=images, labels=labels)
    config = TrainingConfig(n_updates=60, batch_size=60, n_chains=60, gibbs_steps=2,
                            learning_rate=0.2, n_checkpoints=8, seed=0)
    run = folder / "run.h5"
    train_run(DataSpec(str(data), test_fraction=0.25), run, "bernoulli-rbm", 6, config)
    return run, data


@pytest.fixture(scope="module")
def image_report(image_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "report.html"
    calls: list[int] = []
    options = dataclasses.replace(SMALL, landscape=True, tree=True, tree_points=60)
    path = write_report(image_run[0], out, options, progress=calls.append)
    return path, path.read_text(), calls


def spin_rows(n: int, n_visible: int, seed: int) -> np.ndarray:
    x = (np.random.default_rng(seed).random((n, n_visible)) < 0.3).astype(np.uint8)
    x[:, 1] = x[:, 0]
    return x


# ------------------------------------------------------------------------------ the image run
def test_sections_of_an_image_run(image_report):
    _, text, _ = image_report
    page = parse(text)
    assert page.h2 == ["Summary", "Training curve", "Samples", "PCA projections", "Moments",
                       "Receptive fields", "Free-energy landscape",
                       "Hierarchical clustering (TreeRBM)"]
    anchors = [a["href"] for tag, a in page.tags if tag == "a"]
    ids = [a["id"] for tag, a in page.tags if tag == "section"]
    assert anchors == ["#" + i for i in ids]


def test_report_is_self_contained(image_report):
    from matplotlib.image import imread

    _, text, _ = image_report
    page = parse(text)
    assert "http://" not in text and "https://" not in text and "url(" not in text
    assert not {tag for tag, _ in page.tags} & {"script", "link", "iframe", "object", "embed",
                                                  "base", "video", "audio", "source"}
    for tag, attrs in page.tags:
        for name in ("src", "href", "srcset", "data", "action", "poster"):
            if name in attrs:
                assert attrs[name].startswith(("#", "data:image/png;base64,")), (tag, attrs)
    images = [a["src"] for tag, a in page.tags if tag == "img"]
    assert len(images) >= 6
    for src in images:
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        pixels = imread(io.BytesIO(png), format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert len(np.unique(pixels)) > 2  # not a blank picture


def test_numbers_agree_with_the_evaluation_layer(image_run, image_report):
    from boltzkit.evaluation.run_evaluation import evaluate_run
    from boltzkit.io.trajectory import run_datasets

    run, _ = image_run
    _, text, _ = image_report
    model = trajectory.load_model(run)
    lz = log_partition(model, "exact")
    rows, labels, image_shape = trajectory.read_data_sample(run)
    assert image_shape == IMAGE_SHAPE and labels is not None
    train_set, test_set = run_datasets(run)  # the whole training split, as evaluate scores it
    train = log_likelihood(model, torch.as_tensor(train_set.samples, dtype=torch.float32), lz.value)[0]
    test = log_likelihood(model, torch.as_tensor(test_set.samples), lz.value)[0]
    assert f"{lz.value:.4f} (exact)" in text
    assert f"<td>{train:.4f}</td>" in text and f"<td>{test:.4f}</td>" in text
    assert f"<td>{len(test_set.samples)}</td>" in text  # test rows scored
    evaluation = evaluate_run(run, moment_samples=10, moment_steps=1)
    assert evaluation["log_likelihood"]["test"] == pytest.approx(test, abs=1e-4)
    assert evaluation["log_likelihood"]["train"] == pytest.approx(train, abs=1e-4)
    baseline_test = evaluation["independent_site_log_likelihood"]["test"]
    assert f"<td>{baseline_test:.4f}</td>" in text  # the baseline is fitted to the same rows
    for update in select_checkpoints(trajectory.checkpoint_updates(run), SMALL.curve_points):
        assert f"<tr><td>{update}</td>" in text


def test_progress_is_reported_up_to_100(image_report):
    _, _, calls = image_report
    assert calls and calls[-1] == 100 and calls == sorted(calls) and len(set(calls)) == len(calls)
    assert len([c for c in calls if 50 < c < 100]) >= 3  # the sections advance it: no stall at 90


def test_report_is_written_atomically(image_run, tmp_path):
    run, _ = image_run
    out = tmp_path / "r.html"
    write_report(run, out, SMALL, builders=[report_html.summary_section])
    first = out.read_text()
    write_report(run, out, SMALL,
                 builders=[report_html.summary_section, report_html.weights_section])
    assert out.read_text() != first and "Receptive fields" in out.read_text()
    second = out.read_text()

    def broken(ctx):
        raise RuntimeError("a builder failed")

    with pytest.raises(RuntimeError):
        write_report(run, out, SMALL, builders=[report_html.summary_section, broken])
    assert out.read_text() == second
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left


def test_missing_data_file_only_skips_the_test_split(image_run, tmp_path):
    run, data = image_run
    moved = tmp_path / "elsewhere.npz"
    shutil.move(data, moved)
    try:
        text = write_report(run, tmp_path / "r.html", SMALL,
                            builders=[report_html.summary_section,
                                      report_html.training_curve_section]).read_text()
    finally:
        shutil.move(moved, data)
    assert parse(text).h2 == ["Summary", "Training curve"]
    assert "no test log-likelihood" in text
    assert "<td>test rows scored</td><td>—</td>" in text
    assert "test rows" not in text.split("<h2>Training curve</h2>")[1]  # the caption: train only
    assert "<td>test rows scored</td><td>—</td>" in text


# ------------------------------------------------------------------------------ other runs
def test_ising_run_with_ais_and_no_images(tmp_path):
    rows = spin_rows(200, 30, seed=1)
    est = boltzkit.IsingRBM(n_hidden=24, n_updates=20, batch_size=100, n_chains=50, gibbs_steps=2,
                            learning_rate=0.1, n_checkpoints=4, random_state=0,
                            out=tmp_path / "ising.h5")
    est.fit(2.0 * rows - 1.0)  # 24 hidden and 30 visible units: log Z by AIS
    text = write_report(tmp_path / "ising.h5", tmp_path / "ising.html",
                        ReportOptions(curve_points=2, ais_chains=20, ais_steps=20, ais_runs=4,
                                      n_samples=60, gibbs_steps=10, landscape=False,
                                      tree=False)).read_text()
    page = parse(text)
    assert page.h2 == ["Summary", "Training curve", "Samples", "PCA projections", "Moments",
                       "Weights"]
    assert "(AIS)" in text and " ± " in text
    assert "x in {-1,+1}" in text and "ising-rbm" in text


def test_run_without_any_data(tmp_path):
    x = spin_rows(100, 12, seed=2).astype(np.float32)
    boltzkit.BernoulliRBM(n_hidden=4, n_updates=10, batch_size=50, n_chains=50, gibbs_steps=1,
                          n_checkpoints=3, random_state=0, out=tmp_path / "fit.h5").fit(x)
    # the same checkpoints in a run file that stores no data and names no data file
    fitted = trajectory.read_config(tmp_path / "fit.h5")
    trajectory.create(tmp_path / "r.h5", {"model": fitted["model"], "training": fitted["training"]})
    for update, model in trajectory.load_models(tmp_path / "fit.h5"):
        trajectory.append(tmp_path / "r.h5", update, model.parameters(), 0.0, 0.1, checkpoint=True)
    text = write_report(tmp_path / "r.h5", tmp_path / "r.html",
                        ReportOptions(curve_points=3, n_samples=40, gibbs_steps=5)).read_text()
    assert parse(text).h2 == ["Summary", "Training curve", "Samples", "Weights"]
    assert "no data stored in the run file" in text


# ------------------------------------------------------------------------------ pieces
def test_select_checkpoints_even_in_log_update():
    updates = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000]
    assert select_checkpoints(updates, 4) == [1, 10, 100, 1000]
    assert select_checkpoints(updates, 20) == updates
    assert select_checkpoints(updates, 1) == [1000]
    # targets 300**(k/6) = 1, 2.6, 6.7, 17.3, 44.8, 115.9, 300, each rounded in log(update)
    assert select_checkpoints(list(range(1, 301)), 7) == [1, 3, 7, 17, 45, 116, 300]
    chosen = select_checkpoints([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 100], 5)
    assert len(chosen) == 5 and chosen[-1] == 100 and len(set(chosen)) == 5


def test_builders_can_be_added(image_run, tmp_path, monkeypatch):
    monkeypatch.setattr(report_html, "SECTION_BUILDERS",
                        [report_html.summary_section, report_html.weights_section])

    def contact_map(ctx):
        return Section("Contact map", f"<p>{ctx.model.n_visible} sites</p>")

    def not_for_this_model(ctx):
        return None

    report_html.register_section(contact_map, after=report_html.summary_section)
    report_html.register_section(not_for_this_model)
    text = write_report(image_run[0], tmp_path / "r.html", SMALL).read_text()
    assert parse(text).h2 == ["Summary", "Contact map", "Receptive fields"]
    assert "<p>25 sites</p>" in text


def test_render_html_escapes_titles_and_keeps_anchors_unique():
    text = render_html("a <run>", [Section("A & B", "<p>x</p>"), Section("A & B", "<p>y</p>")],
                       notes=["note <1>"])
    page = parse(text)
    assert page.h2 == ["A & B", "A & B"]
    assert [a["id"] for tag, a in page.tags if tag == "section"] == ["a-b", "a-b-2"]
    assert "a &lt;run&gt;" in text and "note &lt;1&gt;" in text


def test_cli_report_and_sample_call_the_report_layer(image_run, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from boltzkit.cli.main import app

    run, _ = image_run
    real = report_html.write_report
    seen = {}

    def summary_only(run_path, out_html, options=None, progress=None):
        seen["options"] = options
        return real(run_path, out_html, options, builders=[report_html.summary_section],
                    progress=progress)

    monkeypatch.setattr(report_html, "write_report", summary_only)
    runner = CliRunner()
    result = runner.invoke(app, ["report", str(run), "-o", str(tmp_path / "r.html"),
                                 "--curve-points", "2", "--samples", "40", "--gibbs-steps", "5"])
    assert result.exit_code == 0, result.output
    assert seen["options"] == ReportOptions(curve_points=2, n_samples=40, gibbs_steps=5)
    assert "<h2>Summary</h2>" in (tmp_path / "r.html").read_text()
    for name in ("s.png", "s.txt", "s.npy"):
        result = runner.invoke(app, ["sample", str(run), "-o", str(tmp_path / name), "--n", "9",
                                     "--gibbs-steps", "5"])
        assert result.exit_code == 0, result.output
    assert np.loadtxt(tmp_path / "s.txt").shape == (9, 25)
    result = runner.invoke(app, ["sample", str(run), "-o", str(tmp_path / "s.jpg")])
    assert result.exit_code == 2 and "unsupported output format" in result.output
