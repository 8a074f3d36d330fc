"""Model families, all speaking the :class:`~boltzkit.models.base.EnergyModel` interface and the
capabilities of :mod:`boltzkit.models.capabilities`; :mod:`boltzkit.models.registry` names them.

Importing this package registers the built-in families and imports no torch (so that the CLI's
help and argument errors stay fast); the model modules load when a model is built or read.
"""

from boltzkit.models import families  # noqa: F401  (registers the built-in families)
