"""Open a report in headless Chromium: it renders (a non-blank screenshot) with no console error.

Needs Debian's chromium at /usr/bin/chromium (CI: ``apt-get install -y chromium``); skipped
without it.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

import boltzkit
from boltzkit.report.html import ReportOptions, write_report

CHROMIUM = Path("/usr/bin/chromium")
WINDOW = (1200, 2000)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")


def chromium(page: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    """Run headless Chromium on a local page, offline, logging the page's console to stderr."""
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               f"--window-size={WINDOW[0]},{WINDOW[1]}", *args, page.resolve().as_uri()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    """Lines where the page wrote to its console (Chromium logs them as ``CONSOLE``), uncaught
    exceptions, and failed resource loads."""
    pattern = re.compile(r":CONSOLE|Uncaught|Failed to load resource|net::ERR_")
    return [line for line in stderr.splitlines() if pattern.search(line)]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chromium")
    rng = np.random.default_rng(0)
    images = (rng.random((200, 6, 6)) < 0.3).astype(np.uint8)
    images[: len(images) // 2, :, :3] = 1  # two families: left half on, or not
    rows = images.reshape(len(images), -1)
    labels = np.repeat(["left", "random"], len(images) // 2)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is faster on a busy machine
    try:
        est = boltzkit.BernoulliRBM(n_hidden=8, n_updates=40, batch_size=50, n_chains=50,
                                    gibbs_steps=2, learning_rate=0.2, n_checkpoints=5,
                                    random_state=0, out=folder / "run.h5")
        est.fit(rows.astype(np.float32), labels, image_shape=(6, 6))
        return write_report(folder / "run.h5", folder / "report.html",
                            ReportOptions(curve_points=3, n_samples=100, gibbs_steps=20,
                                          tree_points=60))
    finally:
        torch.set_num_threads(threads)


def test_screenshot_is_not_blank_and_console_is_clean(report, tmp_path):
    from matplotlib.image import imread

    shot = tmp_path / "shot.png"
    result = chromium(report, tmp_path / "profile", f"--screenshot={shot}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_errors(result.stderr) == []
    pixels = imread(shot)[..., :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    grey = np.round(pixels.mean(-1) * 255)
    assert len(np.unique(grey)) > 50  # text, figures, tables: many grey levels
    assert 0.03 < (grey < 250).mean() < 0.9  # some ink on a mostly white page


def test_dom_has_the_sections(report, tmp_path):
    result = chromium(report, tmp_path / "profile", "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_errors(result.stderr) == []
    dom = result.stdout
    for title in ("Summary", "Training curve", "Samples", "PCA projections", "Moments",
                  "Receptive fields"):
        assert f"<h2>{title}</h2>" in dom
    assert dom.count("<img ") >= 6


def test_console_errors_are_detected(tmp_path):
    # the check above would pass vacuously if Chromium stopped logging the console
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>console.error('boom');"
                    "throw new Error('broken page');</script></body></html>")
    result = chromium(page, tmp_path / "profile", "--dump-dom")
    errors = console_errors(result.stderr)
    assert any("boom" in line for line in errors)
    assert any("Uncaught Error: broken page" in line for line in errors)
