"""The family registry: the one place that maps the user-facing model names to model code.

A *family* is registered under its *kind*, the name users type (``--model bernoulli-rbm``) and
that run files store (``config["model"]["kind"]``). Its :class:`Family` entry says what data it
trains on, how to build a model from data and load one from a run file, which training methods
apply, which hyper-parameters it takes, and the name of its estimator in the Python API
(``boltzkit.BernoulliRBM``). Everything above ``models/`` (CLI choices and help, the training
entry, loading, estimators) reads this table; nothing there names a kind or a class.

The entries hold plain data, and their code as ``"module:attribute"`` paths resolved on first use,
so that listing the families (``boltzkit --help``) imports no torch. Built-in families are
registered by :mod:`boltzkit.models.families` with :func:`register_family`, the same hook a user
calls for a family of their own (docs/architecture.md, "Adding a model family").
"""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from boltzkit.errors import BoltzkitError
from boltzkit.models.visible import VISIBLE_KINDS, VisibleSpace

__all__ = ["Family", "register_family", "family", "families", "kinds", "model_from_config",
           "TRAINING_METHODS", "option_flags", "takers"]

#: Every training method of the toolkit (a family lists those that apply to it).
TRAINING_METHODS = ("pcd", "cd", "rdm", "exact", "plm")


def _resolve(target: str | Callable) -> Callable:
    """A callable, or the one named by ``"package.module:attribute[.attribute]"``."""
    return target if callable(target) else pkgutil.resolve_name(target)


@dataclass(frozen=True)
class Family:
    """One model family.

    Attributes
    ----------
    kind : str
        The name users type (``--model``) and run files store.
    summary : str
        One line for ``--help``.
    api_name : str
        Its estimator in the Python API, ``boltzkit.<api_name>``.
    visible : {"bernoulli", "spin", "categorical", "real"}
        The values of its visible units; binary data files feed bernoulli and spin families,
        categorical ones (alignments, integer states) feed categorical families, real-valued
        matrices and grey-level images feed real families.
    builder : callable or "module:attribute"
        ``build(data, weights, space, options, seed) -> model``: a model initialised from
        training data ``data`` (Tensor (n, n_visible), model values) with row ``weights`` (or
        None), visible space ``space``, the family's ``options`` (a dict with every key of
        :attr:`options`) and the run's integer ``seed`` (for its random initialisation).
    loader : callable or "module:attribute"
        ``load(config, params) -> model`` from the stored model config and tensors.
    methods : tuple of str
        The training methods that apply (:data:`TRAINING_METHODS`).
    parameter_count : callable or "module:attribute", optional
        ``count(n_visible, n_states, options) -> int``, the number of parameter scalars of a model
        of that size, so that training can refuse, before allocating anything, what cannot fit.
    flags : mapping, optional
        ``option -> (flag, help)``: the command-line flag of each option (``boltzkit train``) and
        one line for ``--help``; an option without an entry gets ``--option-name`` (underscores as
        dashes; ``--name/--no-name`` for a bool) and no help. ``n_hidden`` is ``--hidden``, shared
        by every family that takes it.
    options : mapping
        The family's own hyper-parameters and their defaults (e.g. ``{"n_hidden": 100}``: bool,
        int, float or str, the types a flag parses). A run
        file keeps them in its model config or, for epoch-wise pseudo-likelihood runs, in the
        entry under the family's kind; :func:`boltzkit.load` reads them back from there.
    """

    kind: str
    summary: str
    api_name: str
    visible: str
    builder: str | Callable = field(repr=False)
    loader: str | Callable = field(repr=False)
    methods: tuple[str, ...] = ("pcd", "cd", "rdm", "exact")
    options: Mapping[str, Any] = field(default_factory=dict)
    parameter_count: str | Callable | None = field(default=None, repr=False)
    flags: Mapping[str, tuple[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.visible not in VISIBLE_KINDS:
            raise ValueError(f"family {self.kind!r}: visible must be one of {VISIBLE_KINDS}")
        if set(self.flags) - set(self.options):
            raise ValueError(f"family {self.kind!r}: flags for options it does not take: "
                             f"{sorted(set(self.flags) - set(self.options))}")
        for option, default in self.options.items():
            if not isinstance(default, (bool, int, float, str)):
                raise ValueError(f"family {self.kind!r}: option {option!r} must default to a bool, "
                                 "int, float or str (a command-line flag)")
        unknown = set(self.methods) - set(TRAINING_METHODS)
        if unknown:
            raise ValueError(f"family {self.kind!r}: unknown training methods {sorted(unknown)}")

    @property
    def data_kind(self) -> str:
        """Which data reader feeds it: "binary", "categorical" or "continuous" (:mod:`boltzkit.data.specs`)."""
        return self.space().data_kind

    def space(self, n_states: int = 2) -> VisibleSpace:
        """Its :class:`~boltzkit.models.visible.VisibleSpace` for data with ``n_states`` states."""
        return VisibleSpace(self.visible, n_states if self.visible == "categorical" else 2)

    def flag(self, option: str) -> str:
        """The command-line flag of ``option`` (:attr:`flags`)."""
        if option == "n_hidden":
            return "--hidden"
        return self.flags.get(option, ("--" + option.replace("_", "-"), ""))[0]

    def data_space(self, samples, weights=None, n_states: int = 2,
                   options: Mapping[str, Any] | None = None) -> VisibleSpace:
        """Its visible space fitted to the training rows ``samples`` (data values) with row
        ``weights``: :meth:`space` for ``n_states``, then
        :meth:`~boltzkit.models.visible.VisibleSpace.fitted`, which standardises real-valued data
        unless the family's ``standardize`` option is False (discrete spaces are returned as they are)."""
        standardize = self.with_options(options).get("standardize", True)
        return self.space(n_states).fitted(samples, weights, standardize=standardize)

    def with_options(self, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The family's options: the defaults of those not given; a name it does not take is refused."""
        given = dict(options or {})
        unknown = sorted(set(given) - set(self.options))
        if unknown:
            takes = ", ".join(self.options) or "none"
            raise BoltzkitError(f"the {self.kind} family takes no option {', '.join(unknown)} "
                                f"(its options: {takes})")
        return {name: given.get(name, default) for name, default in self.options.items()}

    def build(self, data, weights, space, options: Mapping[str, Any], generator):
        return _resolve(self.builder)(data, weights, space, self.with_options(options), generator)

    def count_parameters(self, n_visible: int, n_states: int, options: Mapping[str, Any]) -> int | None:
        """The number of parameter scalars of a model of this size (None if the family does not say)."""
        if self.parameter_count is None:
            return None
        return int(_resolve(self.parameter_count)(n_visible, n_states, self.with_options(options)))

    def load(self, config: dict[str, Any], params: dict[str, Any]):
        return _resolve(self.loader)(config, params)

    def check_method(self, method: str) -> None:
        """One-line error unless ``method`` trains this family."""
        if method not in self.methods:
            others = [f.kind for f in _FAMILIES.values() if method in f.methods]
            raise BoltzkitError(f"--method {method} does not train the {self.kind} family: use "
                                f"--method {' | '.join(self.methods)}"
                                + (f" ({method} trains {', '.join(others)})" if others else ""))


_FAMILIES: dict[str, Family] = {}


def register_family(entry: Family, replace: bool = False) -> Family:
    """Add a model family (the extension hook; the built-in families use it too).

    Raises ValueError if the kind or the API name is taken, unless ``replace``.
    """
    if not replace:
        if entry.kind in _FAMILIES:
            raise ValueError(f"model family {entry.kind!r} is already registered")
        if any(f.api_name == entry.api_name for f in _FAMILIES.values()):
            raise ValueError(f"API name {entry.api_name!r} is already taken")
    _FAMILIES[entry.kind] = entry
    return entry


def option_flags() -> dict[str, tuple[str, Any, str]]:
    """Every registered family's option flags but ``--hidden`` (the command line's own):
    ``flag -> (option, default, help)``, the first family that declares a flag giving its default
    and help (the families that share a flag share its meaning)."""
    out: dict[str, tuple[str, Any, str]] = {}
    for entry in _FAMILIES.values():
        for option, default in entry.options.items():
            flag = entry.flag(option)
            if flag != "--hidden" and flag not in out:
                help_text = entry.flags.get(option, ("", ""))[1]
                out[flag] = (option, default, f"{entry.kind}: {help_text}" if help_text else entry.kind)
    return out


def takers(option: str) -> list[str]:
    """The kinds of the registered families that take ``option``."""
    return [entry.kind for entry in _FAMILIES.values() if option in entry.options]


def unregister_family(kind: str) -> None:
    """Remove a family (tests that register a toy family clean up with this)."""
    _FAMILIES.pop(kind, None)


def kinds() -> tuple[str, ...]:
    """The registered kinds, in registration order (the ``--model`` choices)."""
    return tuple(_FAMILIES)


def families() -> tuple[Family, ...]:
    return tuple(_FAMILIES.values())


def family(kind: str | None, source: str = "--model") -> Family:
    """The family registered as ``kind``; a one-line error naming ``source`` otherwise."""
    if kind not in _FAMILIES:
        raise BoltzkitError(f"{source}: unknown model {kind!r} (choose {' | '.join(_FAMILIES)})")
    return _FAMILIES[kind]


def model_from_config(config: dict[str, Any], params: dict[str, Any]):
    """Rebuild a model from its stored config (``kind``) and tensors."""
    return family(config.get("kind"), "model config").load(config, params)
