"""boltzkit: energy-based models — train, sample, evaluate and interpret them."""

__version__ = "0.1.0"
