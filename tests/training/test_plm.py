"""Pseudo-likelihood maximisation (plmDCA) of pairwise Ising and Potts models."""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.training.plm import fit_plm, pseudo_log_likelihood

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def exact_samples(model, n: int, seed: int) -> torch.Tensor:
    """n i.i.d. configurations drawn by enumeration of all states (no MCMC error)."""
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    idx = torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))
    return states[idx]


def ising_9_spins(seed: int = 0) -> IsingModel:
    """J_ij ~ N(0, 0.3²), h_i ~ N(0, 0.1²) on 9 spins (the task's reference setting)."""
    g = torch.Generator().manual_seed(seed)
    j = torch.triu(0.3 * torch.randn(9, 9, generator=g, dtype=torch.float64), 1)
    return IsingModel(0.1 * torch.randn(9, generator=g, dtype=torch.float64), j + j.T)


def coupling_rmse(estimate: torch.Tensor, truth: torch.Tensor) -> float:
    iu = torch.triu_indices(truth.shape[0], truth.shape[0], 1)
    return float((estimate - truth)[iu[0], iu[1]].pow(2).mean().sqrt())


def test_plm_recovers_ising_couplings_at_the_sampling_floor():
    """20000 exact samples: the statistical error of any consistent estimator of the 36 couplings is
    about 1/sqrt(20000 * Fisher information) ~ 0.01; unregularised PLM reaches RMSE ≈ 0.012 here
    (0.012-0.014 over seeds; the default lambda_J = 0.01 adds a shrinkage bias: ≈ 0.016)."""
    truth = ising_9_spins()
    data = exact_samples(truth, 20000, seed=0)
    fit = fit_plm(data, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64)
    rmse = coupling_rmse(fit.couplings, truth.couplings)
    print(f"plm Ising 9 spins, 20000 samples: coupling RMSE = {rmse:.4f}")
    assert rmse < 0.02
    assert torch.allclose(fit.couplings, fit.couplings.T) and float(fit.couplings.diag().abs().max()) == 0
    regularised = fit_plm(data, "ising-bm", dtype=torch.float64)  # lambda_h = lambda_J = 0.01
    assert coupling_rmse(regularised.couplings, truth.couplings) < 0.025


def test_plm_is_consistent_at_its_optimum():
    """Without regularisation, the gradient of the pseudo-likelihood vanishes at the fit: checked
    by finite differences of :func:`pseudo_log_likelihood` in a few directions."""
    truth = ising_9_spins(seed=1)
    data = exact_samples(truth, 2000, seed=1)
    fit = fit_plm(data, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64, tolerance=1e-9)
    base = pseudo_log_likelihood(fit, data)
    for i, j in [(0, 1), (2, 7), (4, 8)]:
        moved = fit.clone()
        moved.couplings[i, j] += 1e-3
        moved.couplings[j, i] += 1e-3
        assert pseudo_log_likelihood(moved, data) <= base + 1e-9


def test_pseudo_log_likelihood_matches_brute_force_conditionals():
    g = torch.Generator().manual_seed(2)
    j = torch.randn(4, 4, 3, 3, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(4), torch.arange(4)] = 0
    model = PottsModel(torch.randn(4, 3, generator=g, dtype=torch.float64), j)
    data = torch.randint(0, 3, (20, 4), generator=g)
    expected = 0.0
    for s in data:
        for i in range(4):
            energies = []
            for a in range(3):
                t = s.clone()
                t[i] = a
                energies.append(-model.energy(t[None].double()))
            log_norm = torch.logsumexp(torch.cat(energies), 0)
            expected += float(energies[int(s[i])] - log_norm)
    assert pseudo_log_likelihood(model, data) == pytest.approx(expected / len(data), abs=1e-10)


def test_ising_pseudo_log_likelihood_is_the_generic_flip_formulation():
    """The Ising pseudo-likelihood of plmDCA is the generic ±1 one (hybrid EBM training), whose
    -softplus(-2 s_i f_i) equals the closed form s_i f_i - log 2cosh f_i and the q = 2 Potts
    conditionals of the same distribution (log-softmax of the local fields); large fields
    (|f| ~ 60) stay finite. float64 throughout: agreement to rounding (1e-12)."""
    from boltzkit.models.pseudo_likelihood import pseudo_log_likelihood as generic

    g = torch.Generator().manual_seed(11)
    model = ising_9_spins(seed=11)
    model.fields[0] = 60.0  # a saturated site: exp(2 f) overflows in a naive log 2cosh
    spins = 2.0 * torch.randint(0, 2, (50, 9), generator=g, dtype=torch.float64) - 1.0
    weights = torch.rand(50, generator=g, dtype=torch.float64)
    f = spins @ model.couplings + model.fields
    closed = (weights / weights.sum()) @ (spins * f - torch.logaddexp(f, -f)).sum(1)
    value = pseudo_log_likelihood(model, spins, weights)
    assert value == pytest.approx(float(closed), abs=1e-12)
    assert value == pytest.approx(float(generic(model, spins, weights)), abs=1e-12)
    codes = ((spins + 1) / 2).long()  # code 1 = spin +1 (IsingModel.to_potts)
    assert value == pytest.approx(pseudo_log_likelihood(model.to_potts(), codes, weights), abs=1e-12)


def test_plm_potts_recovers_zero_sum_couplings():
    g = torch.Generator().manual_seed(3)
    length, q = 5, 3
    j = 0.5 * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    truth = PottsModel(0.3 * torch.randn(length, q, generator=g, dtype=torch.float64), j).zero_sum_gauge()
    data = exact_samples(truth, 20000, seed=3).long()
    fit = fit_plm(data, "potts-bm", q=q, lambda_h=0.0, lambda_J=0.0, dtype=torch.float64)
    jf = fit.couplings
    assert float(jf.sum(2).abs().max()) < 1e-10 and float(jf.sum(3).abs().max()) < 1e-10
    assert torch.allclose(jf, jf.permute(1, 0, 3, 2))
    iu = torch.triu_indices(length, length, 1)
    err = (jf - truth.couplings)[iu[0], iu[1]].pow(2).mean().sqrt()
    scale = truth.couplings[iu[0], iu[1]].pow(2).mean().sqrt()
    assert float(err) < 0.04 and float(err / scale) < 0.15
    assert torch.allclose(fit.fields, truth.fields, atol=0.05)


def test_potts_plm_with_two_states_equals_ising_plm():
    """A q = 2 Potts model in the zero-sum gauge is an Ising model (code 1 = spin +1): without
    regularisation both objectives have the same optimum."""
    truth = ising_9_spins(seed=4)
    spins = exact_samples(truth, 3000, seed=4)
    ising = fit_plm(spins, "ising-bm", lambda_h=0.0, lambda_J=0.0, dtype=torch.float64, tolerance=1e-9)
    potts = fit_plm((spins > 0).long(), "potts-bm", q=2, lambda_h=0.0, lambda_J=0.0,
                    dtype=torch.float64, tolerance=1e-9)
    assert torch.allclose(potts.couplings[:, :, 1, 1], ising.couplings, atol=1e-4)
    assert torch.allclose(potts.fields[:, 1], ising.fields, atol=1e-4)


def test_sequence_weights_act_like_repetitions():
    truth = ising_9_spins(seed=5)
    data = exact_samples(truth, 500, seed=5)
    repeated = torch.cat([data, data[:100]])
    weights = torch.ones(500, dtype=torch.float64)
    weights[:100] = 2.0
    a = fit_plm(repeated, "ising-bm", dtype=torch.float64, tolerance=1e-9)
    b = fit_plm(data, "ising-bm", weights=weights, dtype=torch.float64, tolerance=1e-9)
    assert torch.allclose(a.couplings, b.couplings, atol=1e-5)


def test_adam_solver_reaches_the_lbfgs_optimum():
    truth = ising_9_spins(seed=6)
    data = exact_samples(truth, 2000, seed=6)
    lbfgs = fit_plm(data, "ising-bm", dtype=torch.float64)
    adam = fit_plm(data, "ising-bm", solver="adam", max_iter=300, learning_rate=0.05,
                   dtype=torch.float64)
    assert torch.allclose(adam.couplings, lbfgs.couplings, atol=1e-3)


def test_input_validation():
    with pytest.raises(ValueError):
        fit_plm(torch.zeros(5, 3), "ising-bm")  # not ±1
    with pytest.raises(ValueError):
        fit_plm(torch.zeros(5, 3, dtype=torch.long), "potts-rbm")
    with pytest.raises(ValueError):
        fit_plm(torch.full((5, 3), 4), "potts-bm", q=3)


# ------------------------------------------------------------------ memory-lean objective and solver
def random_potts_problem(seed: int, length: int = 6, q: int = 4, m: int = 37):
    """Codes, normalised float64 weights and a symmetric coupling matrix with zero diagonal blocks."""
    g = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, q, (m, length), generator=g)
    weights = torch.rand(m, generator=g, dtype=torch.float64)
    raw = torch.randn(length * q, length * q, generator=g, dtype=torch.float64)
    block = torch.arange(length * q) // q
    couplings = 0.5 * (raw + raw.T) * (block[:, None] != block[None, :])
    fields = torch.randn(length, q, generator=g, dtype=torch.float64)
    return codes, weights / weights.sum(), fields, couplings


def autograd_objective(codes, weights, q):
    """The objective as one autograd graph over all sequences (the implementation before chunks)."""
    import torch.nn.functional as F

    length = codes.shape[1]
    rows = codes + torch.arange(length) * q

    def objective(fields, couplings):
        local = F.embedding_bag(rows, couplings, mode="sum").view(-1, length, q) + fields
        log_p = local.gather(-1, codes.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(local, -1)
        return -(weights @ log_p.sum(-1))

    return objective


@pytest.mark.parametrize("chunk_rows", [None, 1, 5, 36, 37])
def test_chunked_potts_objective_and_hand_gradient_equal_autograd(chunk_rows):
    """The value is a float64 sum of chunk values and the gradients sums of chunk gradients: equal
    to the one-graph autograd ones up to float64 rounding (1e-10 leaves a thousand ulps of room)."""
    from boltzkit.models.pseudo_likelihood import potts_objective

    codes, weights, fields, couplings = random_potts_problem(7)
    q = fields.shape[1]
    ref_h, ref_j = fields.clone().requires_grad_(True), couplings.clone().requires_grad_(True)
    reference = autograd_objective(codes, weights, q)(ref_h, ref_j)
    expected = torch.autograd.grad(reference, (ref_h, ref_j))
    objective = potts_objective(codes, weights, q, chunk_rows)
    h, j = fields.clone().requires_grad_(True), couplings.clone().requires_grad_(True)
    value = objective(h, j)
    got = torch.autograd.grad(value, (h, j))
    assert float(value.detach()) == pytest.approx(float(reference.detach()), abs=1e-10)
    for a, b in zip(got, expected):
        assert float((a - b).abs().max()) < 1e-10
    with torch.no_grad():  # the value alone
        assert float(objective(fields, couplings)) == pytest.approx(float(reference), abs=1e-10)
    h2, j2 = fields.clone().requires_grad_(True), couplings.clone().requires_grad_(True)
    (3.0 * objective(h2, j2)).backward()  # a scaled output reaches the leaves scaled
    assert float((j2.grad - 3.0 * expected[1]).abs().max()) < 1e-10


def test_packed_parameters_are_the_upper_blocks_and_fold_the_gradient():
    """The solver's vector holds the fields and J_ij for i < j only (L(L-1)/2 q^2 couplings, half
    the matrix); its gradient is the gradient of the objective of the symmetric matrix it unpacks
    to (autograd through the unpacking, 1e-12)."""
    from boltzkit.training.plm import _Packed

    codes, weights, fields, couplings = random_potts_problem(8, length=5, q=3, m=20)
    problem = PottsModel(fields, torch.zeros(5, 5, 3, 3, dtype=torch.float64)).pseudo_likelihood_problem(
        codes.double(), weights)
    packed = _Packed(problem)
    assert packed.n_couplings == 5 * 4 // 2 * 3 * 3
    theta = torch.randn(packed.n_fields + packed.n_couplings, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(8))
    h, j = packed.unpack(theta)
    upper = torch.triu(problem.mask, diagonal=1)  # the free entries, row by row
    assert torch.equal(j, j.T) and float(j[~problem.mask].abs().max()) == 0.0
    assert torch.equal(j[upper], theta[packed.n_fields:]) and torch.equal(h.reshape(-1), theta[:15])
    leaf = theta.clone().requires_grad_(True)
    full = torch.zeros(15, 15, dtype=torch.float64).masked_scatter(upper, leaf[15:])
    value = autograd_objective(codes, weights, 3)(leaf[:15].view(5, 3), full + full.T)
    (expected,) = torch.autograd.grad(value, leaf)
    h_leaf, j_leaf = h.clone().requires_grad_(True), j.clone().requires_grad_(True)
    gh, gj = torch.autograd.grad(problem.objective(h_leaf, j_leaf), (h_leaf, j_leaf))
    grad = torch.empty_like(theta)
    packed.pack_gradient(gh, gj, grad)
    assert float((grad - expected).abs().max()) < 1e-12


@pytest.mark.parametrize("chunk_rows", [None, 1, 5, 36])
def test_packed_potts_gradient_equals_the_folded_autograd_gradient(chunk_rows):
    """The Potts objective's own gradient in the solver's layout (two sparse products per site and
    chunk, no (L q)^2 buffer) equals the autograd gradient of the symmetric matrix folded to the
    free entries (G + G^T), and the value equals the autograd value: float64, 1e-12 (sums of a
    few hundred terms of order 1)."""
    from boltzkit.training.plm import _Packed

    codes, weights, fields, couplings = random_potts_problem(10, length=6, q=4, m=37)
    problem = PottsModel(fields, torch.zeros(6, 6, 4, 4, dtype=torch.float64)).pseudo_likelihood_problem(
        codes.double(), weights)
    packed = _Packed(problem)
    upper = torch.triu(problem.mask, diagonal=1)
    leaf = torch.cat([fields.reshape(-1), couplings[upper]]).requires_grad_(True)
    full = torch.zeros(24, 24, dtype=torch.float64).masked_scatter(upper, leaf[24:])
    reference = autograd_objective(codes, weights, 4)(leaf[:24].view(6, 4), full + full.T)
    (expected,) = torch.autograd.grad(reference, leaf)
    from boltzkit.models.pseudo_likelihood import potts_objective

    objective = potts_objective(codes, weights, 4, chunk_rows)
    out = torch.full_like(expected, float("nan"))  # every entry is written
    value = objective.evaluate_packed(fields, couplings, out)
    assert value == pytest.approx(float(reference), abs=1e-12)
    assert float((out - expected).abs().max()) < 1e-12
    assert out.numel() == packed.n_fields + packed.n_couplings


def test_packed_trial_points_are_never_stored():
    """The solver evaluates x + t d without a vector for it: the unpacked buffers, the squared norm
    of the free couplings and their addition to a gradient equal those of the point itself
    (float64: the same sums up to rounding, 1e-12)."""
    from boltzkit.training.plm import _Packed

    codes, weights, fields, _ = random_potts_problem(11, length=5, q=3, m=20)
    problem = PottsModel(fields, torch.zeros(5, 5, 3, 3, dtype=torch.float64)).pseudo_likelihood_problem(
        codes.double(), weights)
    packed = _Packed(problem)
    g = torch.Generator().manual_seed(11)
    x, d = (torch.randn(15 + 90, dtype=torch.float64, generator=g) for _ in range(2))
    point = x + 0.37 * d
    h, j = (b.clone() for b in packed.unpack(point))
    h2, j2 = packed.unpack(x, 0.37, d)
    assert float((h2 - h).abs().max()) < 1e-12 and float((j2 - j).abs().max()) < 1e-12
    assert packed.couplings_norm2() == pytest.approx(float(point[15:].pow(2).sum()), abs=1e-12)
    out = torch.zeros_like(x)
    packed.add_couplings(out, 2.0)
    assert float((out[15:] - 2.0 * point[15:]).abs().max()) < 1e-12 and float(out[:15].abs().max()) == 0


def test_potts_fit_with_the_packed_gradient_equals_the_autograd_fit():
    """fit_plm of a Potts model (its objective writes the packed gradient) against the same solver
    on the autograd path (an objective without ``evaluate_packed``, the gradient folded from the
    full matrix): the gradients agree to float64 rounding, so do the iterates; both stop on the
    same rules near the same optimum (1e-8, far below the 1e-6 tolerance's reach)."""
    import boltzkit.training.plm as plm

    codes, weights, _, _ = random_potts_problem(12, length=5, q=3, m=200)
    fit = fit_plm(codes, "potts-bm", q=3, weights=weights, dtype=torch.float64, tolerance=1e-10)
    original = plm._data_term

    def autograd_only(objective, packed):
        return original(lambda fields, couplings: objective(fields, couplings), packed)

    plm._data_term = autograd_only
    try:
        reference = fit_plm(codes, "potts-bm", q=3, weights=weights, dtype=torch.float64, tolerance=1e-10)
    finally:
        plm._data_term = original
    assert float((fit.couplings - reference.couplings).abs().max()) < 1e-8
    assert float((fit.fields - reference.fields).abs().max()) < 1e-8


def test_a_mask_without_diagonal_blocks_is_refused():
    from boltzkit.training.plm import _diagonal_blocks

    assert _diagonal_blocks(1.0 - torch.eye(3)) == [(0, 1), (1, 2), (2, 3)]
    block = torch.arange(6) // 2
    assert _diagonal_blocks(block[:, None] != block[None, :]) == [(0, 2), (2, 4), (4, 6)]
    with pytest.raises(ValueError, match="diagonal"):
        _diagonal_blocks(torch.ones(3, 3))


def test_lbfgs_minimises_the_rosenbrock_function():
    """The solver alone (strong-Wolfe L-BFGS on preallocated vectors): from (-1.2, 1), the classic
    start, to the minimum (1, 1) within 1e-6 on a function whose valley defeats plain descent."""
    from boltzkit.training.plm import _Counted, _lbfgs

    def rosenbrock(x, t, d, grad):  # at x + t d (d None: at x), the solver's calling convention
        x = x if d is None else x + t * d
        a, b = float(x[0]), float(x[1])
        grad[0], grad[1] = -2 * (1 - a) - 400 * a * (b - a * a), 200 * (b - a * a)
        return (1 - a) ** 2 + 100 * (b - a * a) ** 2

    for history in (1, 6, 20):
        x = torch.tensor([-1.2, 1.0], dtype=torch.float64)
        f = _Counted(rosenbrock, None)
        _lbfgs(f, x, max_iter=500, max_eval=1000, history_size=history, tolerance_grad=1e-10,
               tolerance_change=1e-14)
        assert torch.allclose(x, torch.ones(2, dtype=torch.float64), atol=1e-6), (history, x)
        assert f.count < 200


def test_potts_fit_equals_the_torch_lbfgs_fit_of_the_full_matrix():
    """Against the implementation before this one (autograd over all sequences, the full (L q)^2
    raw matrix made symmetric, ``torch.optim.LBFGS``): another parameterisation and other
    iterates, the same strictly convex objective, so the same optimum. The reference runs to a
    largest gradient entry < 1e-10 (without its objective-change rule, which stops it early);
    fit_plm stops on its own rules at a largest gradient entry of 4e-8, within 4e-8 sqrt(105) / 0.02
    of the optimum (the penalty makes the curvature >= 2 lambda = 0.02), and the measured
    difference is 2.2e-7: 1e-6 is the stopping rule's reach with a 5x margin, far below a change
    of the optimum."""
    codes, weights, _, _ = random_potts_problem(9, length=5, q=3, m=200)
    fit = fit_plm(codes, "potts-bm", q=3, weights=weights, dtype=torch.float64, tolerance=1e-10,
                  max_iter=1000)
    problem = PottsModel.zeros(5, 3, dtype=torch.float64).pseudo_likelihood_problem(codes.double(), weights)
    objective = autograd_objective(codes, weights, 3)
    fields = torch.zeros(5, 3, dtype=torch.float64, requires_grad=True)
    raw = torch.zeros(15, 15, dtype=torch.float64, requires_grad=True)

    def closure():
        optimizer.zero_grad()
        couplings = 0.5 * (raw + raw.T) * problem.mask
        value = objective(fields, couplings) + 0.01 * fields.pow(2).sum() + 0.005 * couplings.pow(2).sum()
        value.backward()
        return value

    optimizer = torch.optim.LBFGS([fields, raw], lr=1.0, max_iter=1000, max_eval=2000, history_size=20,
                                  tolerance_grad=1e-10, tolerance_change=0.0, line_search_fn="strong_wolfe")
    optimizer.step(closure)
    reference = problem.build(fields.detach(), (0.5 * (raw + raw.T) * problem.mask).detach())
    assert float((fit.couplings - reference.couplings).abs().max()) < 1e-6
    assert float((fit.fields - reference.fields).abs().max()) < 1e-6


def test_solver_settings_are_checked_at_the_door():
    data = torch.randint(0, 3, (10, 4))
    for name, value in [("history_size", 0), ("max_iter", 0), ("tolerance", -1.0), ("learning_rate", 0.0),
                        ("lambda_J", -0.1)]:
        with pytest.raises(ValueError, match=name):
            fit_plm(data, "potts-bm", q=3, **{name: value})
