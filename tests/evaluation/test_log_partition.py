"""log_partition(): exact enumeration, AIS, the "auto" choice and its errors."""

from __future__ import annotations

import pytest
import torch

from boltzkit.errors import BoltzkitError
from boltzkit.evaluation.log_partition import EXACT_MAX_UNITS, LogPartition, log_partition

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("units", ["bernoulli", "spin"])
def test_exact_matches_double_enumeration(make_rbm, brute, units):
    model = make_rbm(7, 5, units, scale=1.0, seed=1)
    result = log_partition(model, "exact")
    assert isinstance(result, LogPartition)
    assert result.method == "exact" and result.error == 0.0
    # float64 enumeration of 2**12 pairs vs 2**5 marginals: round-off ~1e-13
    assert result.value == pytest.approx(brute.log_z(model), abs=1e-9)
    assert log_partition(model, "auto") == result


def test_auto_switches_to_ais_above_the_exact_limit():
    """Both layers above EXACT_MAX_UNITS: "auto" runs AIS. With W = 0 the annealing weights are
    deterministic, so AIS is exact: log Z = sum_i softplus(b_i) + sum_a softplus(c_a)."""
    from boltzkit.models.rbm import RBM

    n = EXACT_MAX_UNITS + 1
    g = torch.Generator().manual_seed(2)
    b = torch.randn(n, generator=g, dtype=torch.float64)
    c = torch.randn(n, generator=g, dtype=torch.float64)
    model = RBM(torch.zeros(n, n, dtype=torch.float64), b, c)
    assert model.enumeration_log2_size() == n
    result = log_partition(model, "auto", n_chains=40, n_steps=20, n_runs=4, seed=0)
    assert result.method == "ais"
    expected = float(torch.nn.functional.softplus(b).sum() + torch.nn.functional.softplus(c).sum())
    # 20 float64 increments that telescope: round-off ~1e-13
    assert result.value == pytest.approx(expected, abs=1e-9)
    assert result.error == pytest.approx(0.0, abs=1e-9)


def test_ais_is_reproducible_from_its_seed(make_rbm):
    model = make_rbm(12, 6, scale=0.5, seed=3)
    a = log_partition(model, "ais", n_chains=30, n_steps=10, n_runs=3, seed=5)
    b = log_partition(model, "ais", n_chains=30, n_steps=10, n_runs=3, seed=5)
    c = log_partition(model, "ais", n_chains=30, n_steps=10, n_runs=3, seed=6)
    assert a == b and a.value != c.value


def test_errors_are_one_line_boltzkit_errors(make_rbm):
    model = make_rbm(30, 30, scale=0.1)
    with pytest.raises(BoltzkitError, match="AIS"):
        log_partition(model, "exact")
    with pytest.raises(BoltzkitError, match="unknown log Z method 'bogus'"):
        log_partition(model, "bogus")

    class NoExact:
        kind = "something"
        n_visible = 3

    with pytest.raises(BoltzkitError, match="no exact log Z for the something family"):
        log_partition(NoExact(), "exact")
