"""``train --checkpoints N`` saves N distinct updates (issue 14), or says in one line why not."""

from __future__ import annotations

import numpy as np
import pytest

from boltzkit.io import trajectory
from boltzkit.training.config import checkpoint_schedule

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("spacing", ["log", "linear"])
def test_n_distinct_updates_whenever_there_are_enough(spacing):
    for n_updates in range(1, 200):
        for n_checkpoints in range(1, n_updates + 1):
            s = checkpoint_schedule(n_updates, n_checkpoints, spacing)
            assert len(s) == n_checkpoints and s == sorted(set(s)), (n_updates, n_checkpoints)
            assert s[0] >= 1 and s[-1] == n_updates


def test_log_spacing_fills_collisions_with_the_next_updates():
    # the case of the issue: 30 log-spaced points over 300 updates collided at the start
    s = checkpoint_schedule(300, 30, "log")
    assert len(s) == 30
    assert s[:14] == list(range(1, 15))  # where log points round to the same update: consecutive
    assert np.all(np.diff(np.log(s[14:])) > 0.15)  # then log spacing (ratio ~1.2 per step)
    assert checkpoint_schedule(1000, 4, "log") == [1, 10, 100, 1000]  # no collision: unchanged


def test_more_checkpoints_than_updates_saves_every_update_and_says_so():
    with pytest.warns(UserWarning, match=r"^--checkpoints \(n_checkpoints\) 20 > --updates \(n_updates\) "
                                         r"5: saving 5 checkpoints, one at every update$"):
        assert checkpoint_schedule(5, 20) == [1, 2, 3, 4, 5]


def test_run_file_holds_n_checkpoints(tmp_path):
    from boltzkit import BernoulliRBM

    rng = np.random.default_rng(0)
    x = (rng.random((60, 5)) < 0.4).astype(float)
    path = tmp_path / "run.h5"
    BernoulliRBM(n_hidden=2, n_updates=60, batch_size=30, n_chains=10, gibbs_steps=1,
                 n_checkpoints=25, random_state=0, out=path).fit(x)
    updates = trajectory.checkpoint_updates(path)
    assert len(updates) == 25 and updates == checkpoint_schedule(60, 25, "log")
