"""Boltzmann learning (bmDCA) of pairwise models with the generic Trainer: moment matching."""

from __future__ import annotations

import pytest
import torch

from boltzkit.models.base import Chains
from boltzkit.models.pairwise import IsingModel, PottsModel
from boltzkit.training.config import TrainingConfig
from boltzkit.training.trainer import Trainer

# thousands of small tensor operations: one thread (see tests/conftest.py)
pytestmark = pytest.mark.usefixtures("single_thread")


def true_potts(seed: int = 0, length: int = 4, q: int = 3) -> PottsModel:
    g = torch.Generator().manual_seed(seed)
    j = 0.6 * torch.randn(length, length, q, q, generator=g, dtype=torch.float64)
    j = 0.5 * (j + j.permute(1, 0, 3, 2))
    j[torch.arange(length), torch.arange(length)] = 0
    return PottsModel(0.5 * torch.randn(length, q, generator=g, dtype=torch.float64), j)


def exact_samples(model, n: int, seed: int) -> torch.Tensor:
    states = model.enumerate_visible()
    p = torch.softmax(-model.energy(states), 0)
    return states[torch.multinomial(p, n, replacement=True, generator=torch.Generator().manual_seed(seed))]


def model_statistics(model):
    """Exact p_i and p_ij of a tiny model, by enumeration."""
    m = model.to(dtype=torch.float64)
    states = m.enumerate_visible()
    return m.data_statistics(states, torch.softmax(-m.energy(states), 0))


def max_moment_error(model, data: torch.Tensor, weights: torch.Tensor | None = None) -> tuple[float, float]:
    f = model.to(dtype=torch.float64).data_statistics(data.double(), weights)
    p = model_statistics(model)
    return float((f.fields - p.fields).abs().max()), float((f.couplings - p.couplings).abs().max())


def test_exact_boltzmann_learning_reaches_moment_matching():
    data = exact_samples(true_potts(), 3000, seed=0).float()
    g = torch.Generator().manual_seed(1)
    weights = 0.5 + torch.rand(len(data), generator=g, dtype=torch.float64)  # sequence weights
    model = PottsModel.init_from_data(data, 3, weights)
    config = TrainingConfig(method="exact", n_updates=400, batch_size=len(data), learning_rate=0.05,
                            optimizer="adam", n_checkpoints=1)
    trainer = Trainer(model, data, config, weights)
    assert trainer.data_statistics is not None  # full batch: data statistics computed once
    trainer.run()
    err_i, err_ij = max_moment_error(model, data, weights)
    assert err_i < 1e-3 and err_ij < 1e-3
    j = model.couplings
    assert torch.allclose(j, j.permute(1, 0, 3, 2))
    assert float(j[torch.arange(4), torch.arange(4)].abs().max()) == 0.0


def test_pcd_boltzmann_learning_converges_to_moment_matching():
    """bmDCA proper: persistent Gibbs chains for the model term, full-batch reweighted data term.
    With 1000 chains the Monte Carlo error of a pair frequency is ~ sqrt(p(1-p)/1000) ≈ 0.015, so
    the exact moments of the learned model must agree with the data to a few hundredths (0.011
    here)."""
    truth = true_potts(seed=2)
    data = exact_samples(truth, 5000, seed=2).float()
    g = torch.Generator().manual_seed(3)
    weights = 0.5 + torch.rand(len(data), generator=g, dtype=torch.float64)
    model = PottsModel.init_from_data(data, 3, weights)
    start_i, start_ij = max_moment_error(model, data, weights)
    config = TrainingConfig(method="pcd", n_updates=150, batch_size=len(data), n_chains=1000,
                            gibbs_steps=2, learning_rate=0.5, optimizer="sgd", n_checkpoints=1,
                            seed=4)
    Trainer(model, data, config, weights).run()
    err_i, err_ij = max_moment_error(model, data, weights)
    assert start_ij > 0.05
    assert err_i < 0.03 and err_ij < 0.03
    # the learned couplings are close to the generating ones (zero-sum gauge for comparison)
    learned = model.to(dtype=torch.float64).zero_sum_gauge().couplings
    true_j = truth.zero_sum_gauge().couplings
    assert float((learned - true_j).abs().max()) < 0.25


def test_l2_on_couplings_shifts_the_fixed_point():
    """With the trainer's l2 applied to the couplings (``penalized_parameters``), the stationary point
    is f_ij - p_ij = l2 J_ij while the fields still match f_i = p_i."""
    data = exact_samples(true_potts(seed=5), 2000, seed=5).float()
    model = PottsModel.init_from_data(data, 3)
    l2 = 0.05
    config = TrainingConfig(method="exact", n_updates=600, batch_size=len(data), learning_rate=0.02,
                            optimizer="adam", l2=l2, n_checkpoints=1)
    Trainer(model, data, config).run()
    f = model.to(dtype=torch.float64).data_statistics(data.double())
    p = model_statistics(model)
    assert float((f.fields - p.fields).abs().max()) < 1e-3
    residual = (f.couplings - p.couplings) - l2 * model.couplings.double()
    residual[torch.arange(4), torch.arange(4)] = 0
    assert float(residual.abs().max()) < 1e-3
    assert float(model.couplings.abs().max()) > 0.1  # the penalty is not trivially satisfied


def test_ising_boltzmann_learning_with_metropolis_chains():
    g = torch.Generator().manual_seed(6)
    j = torch.triu(0.4 * torch.randn(6, 6, generator=g, dtype=torch.float64), 1)
    truth = IsingModel(0.2 * torch.randn(6, generator=g, dtype=torch.float64), j + j.T)
    data = exact_samples(truth, 5000, seed=6).float()
    model = IsingModel.init_from_data(data, sampler="metropolis")
    config = TrainingConfig(method="pcd", n_updates=300, batch_size=len(data), n_chains=1000,
                            gibbs_steps=2, learning_rate=0.3, optimizer="sgd", n_checkpoints=1)
    Trainer(model, data, config).run()
    # ±1 moments: twice the {0,1} frequencies' scale; MC error of <s_i> with 1000 chains ≈ 0.03
    err_i, err_ij = max_moment_error(model, data)
    assert err_i < 0.08 and err_ij < 0.08


def test_gradient_from_cached_statistics_equals_gradient_from_data():
    model = true_potts(seed=7)
    data = exact_samples(model, 500, seed=7)
    weights = torch.rand(500, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    chains = Chains(model.init_chains(50, torch.Generator().manual_seed(9)).visible)
    direct = model.log_likelihood_gradient(data, chains, weights)
    cached = model.log_likelihood_gradient(model.data_statistics(data, weights), chains)
    for name in direct:
        assert torch.equal(direct[name], cached[name])

def test_trainer_takes_precomputed_data_statistics():
    """``Trainer(data_statistics=...)``: the given target replaces the data at every update and the
    model's own ``data_statistics`` is never called; handing it the statistics the trainer would
    compute gives a bit-identical run; a minibatch trainer refuses it."""
    data = exact_samples(true_potts(seed=10), 400, seed=10).float()
    config = TrainingConfig(method="pcd", n_updates=5, batch_size=len(data), n_chains=50,
                            gibbs_steps=1, learning_rate=0.1, optimizer="sgd", n_checkpoints=1)
    default = PottsModel.init_from_data(data, 3)
    given = PottsModel.init_from_data(data, 3)
    target = given.data_statistics(data.to(given.device))

    class Counting(PottsModel):
        calls = 0

        def data_statistics(self, *args, **kwargs):
            Counting.calls += 1
            return super().data_statistics(*args, **kwargs)

    given.__class__ = Counting
    trainer = Trainer(given, data, config, data_statistics=target)
    assert trainer.data_statistics is target and Counting.calls == 0
    trainer.run()
    Trainer(default, data, config).run()
    for name, p in default.parameters().items():
        assert torch.equal(p, given.parameters()[name])
    # another target moves the model elsewhere (here: frequencies pulled towards uniform)
    other = PottsModel.init_from_data(data, 3)
    shifted = type(target)(0.5 * target.fields + 0.5 / 3, 0.5 * target.couplings + 0.5 / 9)
    Trainer(other, data, config, data_statistics=shifted).run()
    assert not torch.equal(other.fields, default.fields)
    with pytest.raises(ValueError, match="full-batch"):
        Trainer(PottsModel.init_from_data(data, 3), data,
                TrainingConfig(method="pcd", batch_size=100), data_statistics=target)



# ------------------------------------------------------------------ bmDCA runs on an alignment
@pytest.fixture(scope="module")
def toy_alignment(tmp_path_factory):
    """2000 DNA sequences (q = 5 with the gap, L = 4: 625 states, exactly enumerable) drawn from a
    random Potts model."""
    import numpy as np

    from boltzkit.data.msa import write_fasta

    truth = true_potts(seed=9, length=4, q=5)
    truth.couplings *= 2.0  # strong correlations, far from the independent-site start
    codes = exact_samples(truth, 2000, seed=9).numpy().astype(np.int8)
    path = tmp_path_factory.mktemp("bmdca") / "toy.fasta"
    write_fasta(path, codes, "dna")
    return path


def _bmdca_config(n_updates: int, **kw) -> TrainingConfig:
    settings = dict(method="pcd", n_updates=n_updates, batch_size=10**6, n_chains=1000,
                    gibbs_steps=2, learning_rate=0.5, optimizer="sgd", n_checkpoints=2, seed=3)
    return TrainingConfig(**{**settings, **kw})


def test_bmdca_run_matches_the_pseudocounted_frequencies(toy_alignment, tmp_path):
    """train_model_run (potts-bm, full batch): the target is the reweighted, pseudocounted f_i, f_ij
    (adabmDCA's convention); after 150 updates the learned model's exact moments match it to the
    Monte Carlo accuracy of 1000 chains (sqrt(p(1-p)/1000) <= 0.016; 0.03 allowed)."""
    from boltzkit.data.reweighting import frequencies
    from boltzkit.io import trajectory
    from boltzkit.data.specs import MSASpec
    from boltzkit.training.run import train_run

    spec = MSASpec(str(toy_alignment), alphabet="dna")
    train, _ = spec.load()
    lam = 0.05
    fi, fij = frequencies(train.samples, 5, train.weights, lam, dtype=torch.float64)
    out = tmp_path / "bm.h5"
    model = train_run(spec, out, "potts-bm", 0, _bmdca_config(150), pseudocount=lam)
    p = model_statistics(model)
    assert float((p.fields - fi).abs().max()) < 0.03
    assert float((p.couplings - fij).abs().max()) < 0.03
    # the correlations are learned (the profile start has C_ij = 0): exact C_ij of the model
    # against the data's; 0.95 leaves room for the Monte Carlo noise of 1000 chains
    from boltzkit.models.statistics import PairwiseStatistics, correlation_pearson

    assert correlation_pearson(PairwiseStatistics(fi, fij), p) > 0.95
    stored = trajectory.read_config(out)["bmdca"]
    assert stored == {"pseudocount": lam, "target_pearson": None}
    # default pseudocount: 1 / M_eff (adabmDCA's); the start is the profile model log f_i
    default_out = tmp_path / "d.h5"
    start = train_run(spec, default_out, "potts-bm", 0, _bmdca_config(1, learning_rate=1e-12))
    lam = 1.0 / float(train.weights.sum())
    assert trajectory.read_config(default_out)["bmdca"]["pseudocount"] == pytest.approx(lam)
    fi_default, _ = frequencies(train.samples, 5, train.weights, lam, dtype=torch.float64)
    assert torch.allclose(start.fields.double(), torch.log(fi_default), atol=1e-6)
    assert float(start.couplings.abs().max()) < 1e-11


def test_target_pearson_stops_at_the_first_update_reaching_it(toy_alignment, tmp_path):
    """The stop rule: Pearson of the chains' C_ij (those of the last gradient) >= target; the run
    stops there, well before n_updates, and saves that update as a checkpoint."""
    from boltzkit.io import trajectory
    from boltzkit.models.statistics import correlation_pearson
    from boltzkit.data.specs import MSASpec
    from boltzkit.training.run import train_run

    spec = MSASpec(str(toy_alignment), alphabet="dna")
    trace = []
    out = tmp_path / "stop.h5"
    model = train_run(spec, out, "potts-bm", 0, _bmdca_config(400), target_pearson=0.85,
                            on_pearson=lambda k, r, s: trace.append((k, r, s)))
    updates = [k for k, _, _ in trace]
    assert updates == list(range(1, len(trace) + 1)) and len(trace) < 400
    assert trace[-1][1] >= 0.85 and all(r < 0.85 for _, r, _ in trace[:-1])
    assert all(b[2] >= a[2] for a, b in zip(trace, trace[1:]))  # cumulative seconds
    assert trajectory.checkpoint_updates(out)[-1] == len(trace)
    assert trajectory.read_config(out)["bmdca"]["target_pearson"] == 0.85
    # the reported value is correlation_pearson(target, chains' statistics), target pseudocounted
    from boltzkit.data.reweighting import frequencies
    from boltzkit.models.pairwise import PairwiseStatistics

    train, _ = spec.load()
    target = PairwiseStatistics(*frequencies(train.samples, 5, train.weights,
                                             1.0 / float(train.weights.sum())))
    assert correlation_pearson(target, model.chain_statistics) == pytest.approx(trace[-1][1],
                                                                                 abs=1e-6)


def test_cli_target_pearson_and_option_errors(toy_alignment, tmp_path):
    from typer.testing import CliRunner

    from boltzkit.cli.main import app
    from boltzkit.io import trajectory

    runner = CliRunner()
    out = tmp_path / "cli.h5"
    base = ["train", str(toy_alignment), "--out", str(out), "--quiet", "--model", "potts-bm",
            "--method", "pcd", "--batch-size", "100000", "--chains", "1000", "--gibbs-steps", "2",
            "--lr", "0.5", "--alphabet", "dna", "--updates", "400", "--checkpoints", "2"]
    result = runner.invoke(app, base + ["--target-pearson", "0.8"])
    assert result.exit_code == 0, result.output
    assert trajectory.checkpoint_updates(out)[-1] < 400
    # --pseudocount needs the full batch; --target-pearson needs MCMC chains of a pairwise model
    for extra, option in ((["--batch-size", "100", "--pseudocount", "0.1"], "--pseudocount"),
                          (["--method", "exact", "--target-pearson", "0.9"], "--target-pearson"),
                          (["--target-pearson", "1.5"], "--target-pearson")):
        bad = runner.invoke(app, base + extra + ["--out", str(tmp_path / "bad.h5")])
        assert bad.exit_code == 2 and option in bad.output, bad.output


def test_resume_honours_a_target_pearson_given_on_resume(toy_alignment, tmp_path):
    """A run started without a target, interrupted, then resumed with --target-pearson stops at
    the target (the stored None must not win); a different pseudocount on resume is refused and
    an out-of-range target is a one-line error."""
    from boltzkit.errors import BoltzkitError
    from boltzkit.io import trajectory
    from boltzkit.data.specs import MSASpec
    from boltzkit.training.run import train_run

    spec = MSASpec(str(toy_alignment), alphabet="dna")
    out = tmp_path / "resume.h5"

    class Interrupt(Exception):
        pass

    def interrupt(update):
        if update == 3:
            raise Interrupt

    with pytest.raises(Interrupt):
        train_run(spec, out, "potts-bm", 0, _bmdca_config(400, save_every=1),
                        on_update=interrupt, pseudocount=0.05)
    trace = []
    train_run(spec, out, "potts-bm", 0, None, resume=True, target_pearson=0.85,
                    on_pearson=lambda k, r, s: trace.append((k, r)))
    assert trace and trace[0][0] == 4  # continued from the saved update 3
    assert trace[-1][1] >= 0.85 and trace[-1][0] < 400
    assert trajectory.checkpoint_updates(out)[-1] == trace[-1][0]
    # the same pseudocount is accepted, another one would change the target mid-run
    with pytest.raises(BoltzkitError, match="pseudocount"):
        train_run(spec, out, "potts-bm", 0, None, resume=True, pseudocount=0.1)
    for bad in (1.5, -1.0, float("nan")):
        with pytest.raises(BoltzkitError, match="target-pearson"):
            train_run(spec, tmp_path / "bad.h5", "potts-bm", 0, _bmdca_config(5),
                            target_pearson=bad)
