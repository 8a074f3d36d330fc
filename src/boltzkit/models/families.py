"""The built-in model families, registered with :func:`~boltzkit.models.registry.register_family`
exactly as a user registers one of their own. Plain data: the model code is imported when a model
is first built or loaded."""

from __future__ import annotations

from boltzkit.models.registry import Family, register_family

_ML = ("pcd", "cd", "rdm", "exact")  # maximum likelihood with MCMC chains (or exact enumeration)


def _binary_rbm_parameters(n_visible: int, n_states: int, options: dict) -> int:
    return n_visible * options["n_hidden"] + n_visible + options["n_hidden"]


BERNOULLI_RBM = register_family(Family(
    kind="bernoulli-rbm", summary="RBM with {0,1} visible and hidden units", api_name="BernoulliRBM",
    visible="bernoulli", builder="boltzkit.models.rbm:build_from_data",
    loader="boltzkit.models.rbm:RBM.from_config", methods=_ML, options={"n_hidden": 100},
    parameter_count=_binary_rbm_parameters))

ISING_RBM = register_family(Family(
    kind="ising-rbm", summary="RBM with ±1 visible and hidden units", api_name="IsingRBM",
    visible="spin", builder="boltzkit.models.rbm:build_from_data",
    loader="boltzkit.models.rbm:RBM.from_config", methods=_ML, options={"n_hidden": 100},
    parameter_count=_binary_rbm_parameters))

POTTS_RBM = register_family(Family(
    kind="potts-rbm", summary="RBM with q-state (Potts) visible units and {0,1} hidden units",
    api_name="PottsRBM", visible="categorical", builder="boltzkit.models.potts_rbm:build_from_data",
    loader="boltzkit.models.potts_rbm:PottsRBM.from_config", methods=_ML, options={"n_hidden": 100},
    parameter_count=lambda n, q, o: n * q * o["n_hidden"] + n * q + o["n_hidden"]))

POTTS_BM = register_family(Family(
    kind="potts-bm", summary="pairwise Potts model (DCA: bmDCA on the full batch, plmDCA)",
    api_name="PottsBM", visible="categorical", builder="boltzkit.models.pairwise:build_potts",
    loader="boltzkit.models.pairwise:PottsModel.from_config", methods=_ML + ("plm",),
    parameter_count=lambda n, q, o: n * q + (n * q) ** 2))

ISING_BM = register_family(Family(
    kind="ising-bm", summary="pairwise Ising model on ±1 spins", api_name="IsingBM",
    visible="spin", builder="boltzkit.models.pairwise:build_ising",
    loader="boltzkit.models.pairwise:IsingModel.from_config", methods=_ML + ("plm",),
    parameter_count=lambda n, q, o: n + n * n))

HYBRID = register_family(Family(
    kind="hybrid", summary="pairwise + neural-network energy on ±1 spins (pseudo-likelihood)",
    api_name="HybridEBM", visible="spin", builder="boltzkit.models.hybrid:build_from_data",
    loader="boltzkit.models.hybrid:HybridEBM.from_config", methods=("plm",),
    options={"nn_hidden": 128, "parts": "both", "activation": "silu"},
    flags={"nn_hidden": ("--nn-hidden", "hidden units of the network energy"),
           "parts": ("--hybrid-parts", "both | pair (pairwise only) | nn (network only); --l2 applies "
                     "to J and the network weights, --updates are Adam steps"),
           "activation": ("--activation", "the network's activation, silu | relu | tanh | softplus | elu")},
    parameter_count=lambda n, q, o: n + n * n + (n + 2) * o["nn_hidden"] + 1))

GAUSSIAN_RBM = register_family(Family(
    kind="gaussian-rbm", summary="RBM with Gaussian visible units (learned variances) and {0,1} hidden "
    "units, for real-valued data", api_name="GaussianRBM", visible="real",
    builder="boltzkit.models.gaussian_rbm:build_from_data",
    loader="boltzkit.models.gaussian_rbm:GaussianRBM.from_config", methods=_ML,
    options={"n_hidden": 100, "standardize": True, "sampler": "gibbs", "langevin_steps": 10,
             "langevin_step_size": 0.01},
    flags={"standardize": ("--standardize", "standardise each feature of the training rows (stored in "
                           "the run; samples and log-likelihoods come back in the data's units)"),
           "langevin_steps": ("--langevin-steps", "gibbs-langevin: Langevin steps on v per hidden draw"),
           "langevin_step_size": ("--langevin-step-size", "gibbs-langevin: step size, in units of the "
                                  "mean variance")},
    parameter_count="boltzkit.models.gaussian_rbm:parameter_count"))

#: The family the CLI and the demo use when none is named.
DEFAULT_FAMILY = BERNOULLI_RBM
