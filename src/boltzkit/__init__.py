"""boltzkit: energy-based models — train, sample, evaluate and interpret them."""

from boltzkit.estimator import BernoulliRBM, IsingRBM, load

__version__ = "0.1.0"
__all__ = ["BernoulliRBM", "IsingRBM", "load"]
