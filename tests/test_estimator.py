"""The scikit-learn style estimators: BernoulliRBM ({0,1}) and IsingRBM (±1)."""

from __future__ import annotations

import inspect

import h5py
import numpy as np
import pytest
import torch

import boltzkit
from boltzkit import BernoulliRBM, IsingRBM
from boltzkit.errors import BoltzkitError, DataError
from boltzkit.io import trajectory

pytestmark = pytest.mark.usefixtures("single_thread")

SMALL = dict(n_hidden=3, n_updates=40, batch_size=50, n_chains=20, gibbs_steps=2,
             learning_rate=0.05, random_state=0)


@pytest.fixture(scope="module")
def x01() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = (rng.random((120, 7)) < np.linspace(0.1, 0.7, 7)).astype(float)
    x[:, 1] = x[:, 0]  # some structure
    return x


@pytest.fixture(scope="module")
def fitted(x01, single_thread_module) -> BernoulliRBM:
    return BernoulliRBM(**SMALL).fit(x01)


def test_fit_returns_self_and_learned_attributes(x01):
    est = BernoulliRBM(**SMALL)
    assert est.fit(x01) is est
    assert est.weights_.shape == (7, 3)
    assert est.visible_bias_.shape == (7,) and est.hidden_bias_.shape == (3,)
    assert est.n_features_in_ == 7
    assert est.model_.dtype == torch.float32  # float32 for training by default


def test_output_shapes(fitted, x01):
    h = fitted.transform(x01[:10])
    assert h.shape == (10, 3) and ((h > 0) & (h < 1)).all()
    s = fitted.sample(15, gibbs_steps=5, random_state=1)
    assert s.shape == (15, 7) and set(np.unique(s)) <= {0.0, 1.0}
    assert np.array_equal(s, fitted.sample(15, gibbs_steps=5, random_state=1))
    assert fitted.sample(4, gibbs_steps=0, start=x01[:4]).tolist() == x01[:4].tolist()
    f = fitted.free_energy(x01[:10])
    assert f.shape == (10,)
    ll = fitted.score_samples(x01[:10])
    assert ll.shape == (10,) and (ll < 0).all()
    assert fitted.score(x01[:10]) == pytest.approx(float(ll.mean()))


@pytest.mark.parametrize(("bad", "message"), [
    (np.zeros(7), "2-D"),
    (np.zeros((2, 3, 7)), "2-D"),
    (np.array([[0, 1, np.nan, 0, 1, 0, 0]]), "NaN"),
    (np.array([[0, 1, np.inf, 0, 1, 0, 0]]), "NaN or infinite"),
    (np.array([[0, 1, 1.5, 0, 1, 0, 0]]), r"values in \[0, 1\] \(values in \{0, 1\}, or grey levels"),
    (np.array([[0, 1, -1, 0, 1, 0, 0]]), r"values in \[0, 1\].*got values from -1 to 1"),
    (np.zeros((2, 6)), "X has 6 features, but BernoulliRBM is expecting 7 features"),
])
def test_clear_errors_on_bad_input(fitted, bad, message):
    for method in (fitted.transform, fitted.free_energy, fitted.score_samples):
        with pytest.raises(BoltzkitError, match=message):
            method(bad)


def test_unfitted_and_bad_options():
    est = BernoulliRBM(**SMALL)
    with pytest.raises(BoltzkitError, match="not fitted"):
        est.transform(np.zeros((1, 7)))
    with pytest.raises(BoltzkitError, match="--method must be one of pcd | cd"):
        BernoulliRBM(method="bogus", n_updates=1).fit(np.zeros((4, 3)))
    # non-finite and out-of-range settings are refused at the door, naming the setting
    for params, message in [({"learning_rate": float("nan")}, r"--lr \(learning_rate\) must be finite"),
                            ({"n_updates": -1}, r"--updates \(n_updates\) must be >= 1, got -1"),
                            ({"gibbs_steps": 0}, "--gibbs-steps must be >= 1"),
                            ({"l1": float("inf")}, "--l1 must be finite")]:
        with pytest.raises(BoltzkitError, match=message):
            BernoulliRBM(**dict(SMALL, **params)).fit(np.zeros((4, 3)))


def test_ising_rbm_accepts_spins_and_rejects_bits(x01):
    spins = 2 * x01 - 1
    est = IsingRBM(**SMALL).fit(spins)
    assert est.model_.kind == "ising-rbm"
    h = est.transform(spins[:5])
    assert ((h > -1) & (h < 1)).all()  # tanh of the field
    s = est.sample(6, gibbs_steps=3)
    assert set(np.unique(s)) <= {-1.0, 1.0}
    with pytest.raises(BoltzkitError, match=r"values in \{-1, 1\} for IsingRBM"):
        IsingRBM(**SMALL).fit(x01)
    with pytest.raises(BoltzkitError, match=r"values in \{-1, 1\}"):
        est.transform(x01[:3])
    with pytest.raises(BoltzkitError, match=r"values in \[0, 1\] \(values in \{0, 1\}.* for BernoulliRBM"):
        BernoulliRBM(**SMALL).fit(spins)


@pytest.mark.parametrize("cls", [BernoulliRBM, IsingRBM])
def test_score_samples_is_minus_free_energy_minus_log_z(cls, x01, brute):
    """log p(x) by double enumeration of the trained model (float64 copy of its parameters)."""
    x = x01 if cls is BernoulliRBM else 2 * x01 - 1
    est = cls(**SMALL, dtype="float64").fit(x)
    model = est.model_
    states, p = brute.distribution(model)
    idx = brute.index(torch.from_numpy(x), model.visible_units)
    # float64 end to end: the two computations differ by round-off only
    np.testing.assert_allclose(est.score_samples(x), p[idx].log().numpy(), rtol=0, atol=1e-9)
    assert est.log_partition_method_ == "exact"
    assert est.log_partition() == pytest.approx(brute.log_z(model), abs=1e-9)
    # and with log Z passed explicitly
    np.testing.assert_allclose(est.score_samples(x, log_z=0.0),
                               -model.free_energy(torch.from_numpy(x)).numpy(), atol=1e-12)


def test_refit_does_not_reuse_a_stale_log_partition(x01):
    est = BernoulliRBM(**SMALL, dtype="float64").fit(x01)
    est.score_samples(x01)  # computes and caches log Z of the first model
    est.set_params(n_updates=200, learning_rate=0.1).fit(x01)
    expected = -est.model_.free_energy(torch.from_numpy(x01)) - est.model_.log_partition_exact()
    np.testing.assert_allclose(est.score_samples(x01), expected.numpy(), rtol=0, atol=1e-9)


def test_load_gives_each_checkpoint(tmp_path, x01):
    path = tmp_path / "run.h5"
    est = BernoulliRBM(**SMALL, n_checkpoints=4, out=path).fit(x01)
    updates = trajectory.checkpoint_updates(path)
    assert updates[-1] == SMALL["n_updates"] and len(updates) >= 3
    last = boltzkit.load(path)
    np.testing.assert_array_equal(last.weights_, est.weights_)
    assert last.trajectory_updates_ == updates
    assert last.get_params()["n_hidden"] == 3 and last.random_state == 0
    for k in updates:
        loaded = boltzkit.load(path, checkpoint=k)
        stored = trajectory.read_params(path, k)
        np.testing.assert_array_equal(loaded.weights_, stored["weights"].numpy())
        np.testing.assert_array_equal(loaded.hidden_bias_, stored["hidden_bias"].numpy())
    first = boltzkit.load(path, checkpoint=updates[0])
    assert not np.array_equal(first.weights_, last.weights_)
    with pytest.raises(DataError, match="no checkpoint at update 9999"):
        boltzkit.load(path, checkpoint=9999, exact=True)
    # a loaded estimator works like a fitted one
    assert last.score_samples(x01[:3]).shape == (3,)


def test_sklearn_clone_and_params(fitted, x01):
    from sklearn.base import clone

    params = fitted.get_params()
    init_names = [p for p in inspect.signature(BernoulliRBM.__init__).parameters if p != "self"]
    assert sorted(params) == sorted(init_names)
    copy = clone(fitted)
    assert type(copy) is BernoulliRBM and copy.get_params() == params
    with pytest.raises(BoltzkitError, match="not fitted"):
        copy.model_  # clone copies hyper-parameters, not the learned state
    rebuilt = BernoulliRBM(**params)
    assert rebuilt.get_params() == params
    assert rebuilt.set_params(**params) is rebuilt
    # same hyper-parameters and seed: the same fit
    np.testing.assert_array_equal(clone(fitted).fit(x01).weights_, fitted.weights_)


def test_sklearn_pipeline(x01):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    y = (x01[:, 0] > 0).astype(int)
    pipe = Pipeline([("rbm", BernoulliRBM(**SMALL)), ("clf", LogisticRegression())]).fit(x01, y)
    assert pipe.predict(x01).shape == (120,)


def test_sample_weight_is_used(x01):
    w = np.ones(len(x01))
    a = BernoulliRBM(**SMALL).fit(x01, sample_weight=w)
    b = BernoulliRBM(**SMALL).fit(x01)
    w2 = w.copy()
    w2[x01[:, 0] == 1] = 5.0
    c = BernoulliRBM(**SMALL).fit(x01, sample_weight=w2)
    # uniform weights change nothing but float round-off of the normalisation
    np.testing.assert_allclose(a.visible_bias_, b.visible_bias_, atol=1e-5)
    assert c.visible_bias_[0] > b.visible_bias_[0] + 0.5  # up-weighting x_0 = 1 raises b_0


def test_set_params_rejects_unknown_names():
    with pytest.raises(ValueError, match="learning_rat"):
        BernoulliRBM().set_params(learning_rat=0.1)


# ------------------------------------------------------------------------------ categorical runs
def _potts_run(tmp_path, kind: str, n_hidden: int = 0):
    """A tiny run (4 sites, RNA alphabet q = 5) of ``kind`` trained for a few updates."""
    from boltzkit.data.msa import write_fasta
    from boltzkit.training.config import TrainingConfig
    from boltzkit.data.specs import MSASpec
    from boltzkit.training.run import train_run

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, (60, 4))
    codes[:, 1] = codes[:, 0]  # some structure
    write_fasta(tmp_path / "x.fasta", codes.astype(np.int8), "rna")
    config = TrainingConfig(method="pcd", n_updates=5, batch_size=30, n_chains=20, gibbs_steps=2,
                            learning_rate=0.1, n_checkpoints=2, dtype="float64")
    train_run(MSASpec(str(tmp_path / "x.fasta"), alphabet="rna"), tmp_path / "run.h5", kind,
                    n_hidden, config)
    return boltzkit.load(tmp_path / "run.h5"), codes


@pytest.mark.parametrize(("kind", "n_hidden"), [("potts-bm", 0), ("potts-rbm", 3)])
def test_load_categorical_run_scores_a_normalised_distribution(tmp_path, kind, n_hidden):
    est, codes = _potts_run(tmp_path, kind, n_hidden)
    # the family's own estimator class, from the registry
    assert type(est).__name__ == {"potts-bm": "PottsBM", "potts-rbm": "PottsRBM"}[kind]
    assert type(est) is getattr(boltzkit, type(est).__name__) and est.kind_ == kind
    assert (est.n_features_in_, est.n_states_, est.alphabet_) == (4, 5, "-ACGU")
    assert est.trajectory_updates_[-1] == 5
    est.log_partition()
    assert est.log_partition_method_ == "exact"
    # p(x) = exp(score) sums to 1 over the 5^4 configurations (float64 round-off)
    states = np.array(np.meshgrid(*[np.arange(5)] * 4, indexing="ij")).reshape(4, -1).T
    assert float(np.exp(est.score_samples(states)).sum()) == pytest.approx(1.0, abs=1e-10)
    assert est.score(codes) == pytest.approx(float(est.score_samples(codes).mean()))
    np.testing.assert_allclose(est.free_energy(codes),
                               est.model_.free_energy(torch.as_tensor(codes)).numpy())
    x = est.sample(7, gibbs_steps=3, random_state=0)
    assert x.shape == (7, 4) and x.dtype == np.int64 and x.min() >= 0 and x.max() < 5
    np.testing.assert_array_equal(x, est.sample(7, gibbs_steps=3, random_state=0))
    # aligned strings are encoded with the run's alphabet
    np.testing.assert_allclose(est.score_samples(["ACGU", "-AAC"]),
                               est.score_samples([[1, 2, 3, 4], [0, 1, 1, 2]]))
    if kind == "potts-rbm":
        assert est.transform(codes).shape == (60, 3)
    else:
        with pytest.raises(BoltzkitError, match="no hidden units"):
            est.transform(codes)


def test_load_categorical_run_validates_input(tmp_path):
    est, _ = _potts_run(tmp_path, "potts-bm")
    for bad, message in [([[0, 1, 2, 5]], "integer codes 0..4"), ([[0, 1, 2]], "X has 3 features"),
                         ([[0.5, 1, 2, 3]], "integer codes"), ([0, 1, 2, 3], "2-D"),
                         (["ACG", "ACGU"], "different lengths")]:
        with pytest.raises(BoltzkitError, match=message):
            est.score_samples(bad)


def test_load_ising_bm_run(tmp_path):
    from boltzkit.training.config import TrainingConfig
    from boltzkit.data.specs import DataSpec
    from boltzkit.training.run import train_run

    rng = np.random.default_rng(2)
    x = (rng.random((200, 5)) < 0.4).astype(np.uint8)
    np.save(tmp_path / "x.npy", x)
    config = TrainingConfig(method="plm", n_updates=20, n_checkpoints=1, dtype="float64")
    train_run(DataSpec(str(tmp_path / "x.npy"), binarize="none"), tmp_path / "i.h5",
                    "ising-bm", 0, config)
    est = boltzkit.load(tmp_path / "i.h5")
    spins = 2.0 * np.array(np.meshgrid(*[[0, 1]] * 5, indexing="ij")).reshape(5, -1).T - 1
    assert float(np.exp(est.score_samples(spins)).sum()) == pytest.approx(1.0, abs=1e-10)
    s = est.sample(4, gibbs_steps=2)
    assert set(np.unique(s)) <= {-1.0, 1.0}
    with pytest.raises(BoltzkitError, match="±1 spins"):
        est.score_samples(x)


@pytest.mark.parametrize(("run", "expected"), [
    ("bernoulli-rbm", {"n_hidden": 4, "n_updates": 30, "batch_size": 50, "n_chains": 50, "gibbs_steps": 2,
                       "method": "pcd", "n_checkpoints": 3}),
    ("potts-rbm", {"n_hidden": 3, "optimizer": "adam", "n_updates": 30}),
    ("potts-bm-plm", {"method": "plm", "n_updates": 20, "lambda_h": 0.01, "lambda_J": 0.01}),
    ("hybrid", {"nn_hidden": 4, "parts": "both", "method": "plm", "n_updates": 20, "batch_size": 50,
                "n_checkpoints": 2}),
])
def test_load_gives_back_the_settings_the_run_was_trained_with(run, expected):
    """The command lines of tests/fixtures/runs_v0_1/make_fixtures.sh, read back by load()."""
    from pathlib import Path

    est = boltzkit.load(Path(__file__).parent / "fixtures" / "runs_v0_1" / f"{run}.h5")
    params = est.get_params()
    assert {k: params[k] for k in expected} == expected


def test_learning_rate_schedule_hyper_parameters(tmp_path, x01):
    """lr_schedule / lr_final reach the Trainer (docs/methods.md section 6.6), are stored in the run
    and come back with load; a bad value is refused at fit in one line naming the flag."""
    path = tmp_path / "run.h5"
    assert BernoulliRBM().get_params()["lr_schedule"] == "constant"
    assert BernoulliRBM().get_params()["lr_final"] is None
    est = BernoulliRBM(**SMALL, lr_schedule="cosine", lr_final=0.001, out=path).fit(x01)
    with h5py.File(path, "r") as f:
        last = f["checkpoints"][sorted(f["checkpoints"])[-1]]
        assert float(last.attrs["learning_rate"]) == pytest.approx(0.001, rel=1e-12)
    loaded = boltzkit.load(path)
    assert loaded.get_params()["lr_schedule"] == "cosine" and loaded.get_params()["lr_final"] == 0.001
    constant = BernoulliRBM(**SMALL).fit(x01)
    assert not np.array_equal(est.weights_, constant.weights_)
    with pytest.raises(ValueError, match=r"^--lr-final must be > 0, got -1"):
        BernoulliRBM(**SMALL, lr_schedule="geometric", lr_final=-1.0).fit(x01)


# ------------------------------------------------------------------------------ scikit-learn habits
def test_grid_search_over_n_hidden(x01):
    """GridSearchCV clones, fits and scores (mean log-likelihood, exact log Z here) each setting."""
    from sklearn.model_selection import GridSearchCV

    search = GridSearchCV(BernoulliRBM(**dict(SMALL, dtype="float64")), {"n_hidden": [2, 4]}, cv=2)
    search.fit(x01)
    assert search.best_params_["n_hidden"] in (2, 4)
    scores = search.cv_results_["mean_test_score"]
    assert np.isfinite(scores).all() and (scores < 0).all()  # log-likelihoods of 7 binary units
    assert search.best_estimator_.components_.shape == (search.best_params_["n_hidden"], 7)


def test_sklearn_rbm_attributes(fitted):
    """scikit-learn's BernoulliRBM names: components_ (n_hidden, n_features), the intercepts."""
    np.testing.assert_array_equal(fitted.components_, fitted.weights_.T)
    assert fitted.components_.shape == (3, 7)
    np.testing.assert_array_equal(fitted.intercept_hidden_, fitted.hidden_bias_)
    np.testing.assert_array_equal(fitted.intercept_visible_, fitted.visible_bias_)
    from boltzkit.estimator import NotFittedError

    with pytest.raises(NotFittedError, match="not fitted"):
        BernoulliRBM().components_
    assert not hasattr(BernoulliRBM(), "intercept_hidden_")  # unfitted: an AttributeError too


def test_sklearn_rbm_attributes_are_refused_without_hidden_units(tmp_path):
    est, _ = _potts_run(tmp_path, "potts-bm")
    with pytest.raises(AttributeError, match="components_: a potts-bm model has no layer of hidden "
                                             "units.*its tensors: fields_, couplings_"):
        est.components_
    assert not hasattr(est, "intercept_visible_") and not hasattr(est, "transform")
    (tmp_path / "rbm").mkdir()
    rbm, _ = _potts_run(tmp_path / "rbm", "potts-rbm", 3)
    assert rbm.components_.shape == (3, 4, 5)  # (n_hidden, n_features, q) for Potts units
    assert rbm.intercept_visible_.shape == (4, 5) and rbm.intercept_hidden_.shape == (3,)


def test_fit_transform_is_fit_then_transform(x01):
    h = BernoulliRBM(**SMALL).fit_transform(x01)
    np.testing.assert_array_equal(h, BernoulliRBM(**SMALL).fit(x01).transform(x01))
    assert h.shape == (120, 3)


def test_partial_fit_continues_from_the_current_state(x01):
    """n_updates more gradient steps from the current parameters; chains and Adam's moments carried."""
    est = BernoulliRBM(**dict(SMALL, optimizer="adam"))
    assert est.partial_fit(x01, n_updates=5) is est  # unfitted: initialised from X as fit does
    assert est.n_features_in_ == 7
    before = est.weights_.copy()
    est.partial_fit(x01, n_updates=1)
    assert not np.array_equal(est.weights_, before)
    # full batch (so that each call's minibatch order cannot matter): two calls of 10 updates and
    # one of 20 give the same model, as the chains, the random generator and Adam's moments are
    # carried from call to call
    full = dict(SMALL, optimizer="adam", batch_size=120, dtype="float64")
    a = BernoulliRBM(**full).partial_fit(x01, n_updates=10).partial_fit(x01, n_updates=10)
    b = BernoulliRBM(**full).partial_fit(x01, n_updates=20)
    # float64; the rows are summed in another order by each call: round-off only
    np.testing.assert_allclose(a.weights_, b.weights_, rtol=0, atol=1e-10)
    # default: one pass over X, ceil(120 / 50) = 3 updates, each moving the weights
    fitted = BernoulliRBM(**SMALL).fit(x01)
    start = fitted.weights_.copy()
    fitted.partial_fit(x01)
    assert not np.array_equal(fitted.weights_, start)
    with pytest.raises(BoltzkitError, match="X has 6 features"):
        fitted.partial_fit(x01[:, :6])
    with pytest.raises(ValueError, match="lr_schedule 'cosine' spans the n_updates of fit"):
        BernoulliRBM(**SMALL, lr_schedule="cosine", lr_final=0.001).partial_fit(x01)


def test_partial_fit_is_absent_for_pseudo_likelihood():
    est = boltzkit.IsingBM(method="plm")
    assert not hasattr(est, "partial_fit")
    with pytest.raises(AttributeError, match="partial_fit: method 'plm' runs its solver to convergence"):
        est.partial_fit(np.ones((3, 2)))
    assert hasattr(boltzkit.IsingBM(), "partial_fit")  # pcd, the family's first method


def test_grey_levels_are_accepted_and_not_binarised(x01):
    """Grey levels in [0, 1] are taken by fit, transform, free_energy and score_samples as real
    values (scikit-learn's convention; the gradient is checked in the next test)."""
    rng = np.random.default_rng(3)
    grey = np.clip(x01 + rng.normal(0, 0.2, x01.shape), 0, 1)
    est = BernoulliRBM(**SMALL).fit(grey)
    assert est.free_energy(grey).shape == (120,) and est.transform(grey).shape == (120, 3)
    assert np.isfinite(est.score_samples(grey)).all()
    # a grey level is not rounded: its hidden means differ from those of both neighbouring bits
    h_grey = est.transform(np.full((1, 7), 0.4))
    assert not np.allclose(h_grey, est.transform(np.zeros((1, 7))))
    assert not np.allclose(h_grey, est.transform(np.ones((1, 7))))
    with pytest.raises(ValueError, match=r"values in \[0, 1\].*got values from -0.5 to 1 for BernoulliRBM"):
        BernoulliRBM(**SMALL).fit(np.where(x01 > 0, 1.0, -0.5))
    # spins stay ±1 (a {0,1} row would pass as grey spins); sample starts stay binary
    with pytest.raises(ValueError, match=r"values in \{-1, 1\} for IsingRBM"):
        IsingRBM(**SMALL).fit(np.full((4, 7), 0.5))
    with pytest.raises(ValueError, match=r"values in \{0, 1\}"):
        est.sample(1, gibbs_steps=1, start=np.full((1, 7), 0.5))


def test_grey_level_gradient_is_the_real_valued_one(x01):
    """One exact-gradient SGD step on grey data, checked by hand: the visible bias moves by
    lr * (mean of the grey levels - model mean), with the grey levels themselves (not rounded)."""
    rng = np.random.default_rng(4)
    grey = rng.random((50, 4))
    params = dict(n_hidden=2, method="exact", dtype="float64", n_updates=1, batch_size=50,
                  centered=False, learning_rate=0.1, random_state=0)
    one = BernoulliRBM(**params).partial_fit(grey, n_updates=1)
    start = BernoulliRBM(**params).partial_fit(grey, n_updates=1)  # same init, same step
    np.testing.assert_array_equal(one.visible_bias_, start.visible_bias_)
    init = BernoulliRBM(**params)
    init._set_model(init.family.build(torch.as_tensor(grey), None, init.family.space(2),
                                      {"n_hidden": 2}, 0))
    model = init.model_
    states = model.enumerate_visible()
    p = torch.softmax(-model.free_energy(states), 0)
    expected = model.visible_bias + 0.1 * (torch.as_tensor(grey).mean(0) - p @ states)
    # float64, one step: round-off only
    np.testing.assert_allclose(one.visible_bias_, expected.numpy(), rtol=0, atol=1e-12)


def test_load_takes_the_nearest_checkpoint_below(tmp_path, x01):
    path = tmp_path / "run.h5"
    BernoulliRBM(**dict(SMALL, n_checkpoints=4), out=path).fit(x01)
    updates = trajectory.checkpoint_updates(path)
    assert len(updates) == 4  # --checkpoints N saves N distinct updates
    target = updates[1] + 1
    assert target not in updates
    with pytest.warns(UserWarning, match=rf"no checkpoint at update {target}; loaded update "
                                         rf"{updates[1]}, the nearest saved below"):
        est = boltzkit.load(path, checkpoint=target)
    assert est.checkpoint_ == updates[1]
    np.testing.assert_array_equal(est.weights_, trajectory.read_params(path, updates[1])["weights"].numpy())
    with pytest.raises(DataError, match=rf"no checkpoint at or below update 0 \(saved: {updates[0]}, "):
        boltzkit.load(path, checkpoint=0)
    with pytest.raises(DataError, match=rf"no checkpoint at update {target} \(available: "):
        boltzkit.load(path, checkpoint=target, exact=True)
    assert boltzkit.load(path).checkpoint_ == updates[-1]
    with pytest.warns(UserWarning, match=f"loaded update {updates[-1]}"):
        assert boltzkit.load(path, checkpoint=10**6).checkpoint_ == updates[-1]
