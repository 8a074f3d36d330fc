"""The model families' own flags on ``boltzkit train``: each family declares its options and their
flags in the registry (:attr:`boltzkit.models.registry.Family.flags`); ``train`` takes whatever
typer leaves over and reads it here, so a family registered later gets its flags without a change
to the CLI.

A flag parses as its option's default: a bool is ``--name`` / ``--no-name`` (or ``--name=false``),
an int, float or str takes one value (``--name VALUE`` or ``--name=VALUE``). A flag no family
declares, one that lacks its value or a value of the wrong type is one line naming it; a flag of
another family than the one trained is refused by :func:`options_for`.
"""

from __future__ import annotations

from typing import Any, Mapping

from boltzkit.errors import BoltzkitError
from boltzkit.models.registry import Family, option_flags, takers

__all__ = ["parse", "options_for", "by_option", "epilog"]

_TRUE, _FALSE = ("true", "1", "yes"), ("false", "0", "no")


def epilog() -> str:
    """The families' flags for ``boltzkit train --help``, one line each."""
    lines = []
    for flag, (option, default, help_text) in option_flags().items():
        shown = f"{flag}/--no-{flag[2:]}" if isinstance(default, bool) else f"{flag} {type(default).__name__.upper()}"
        lines.append(f"{shown}: {help_text} (default: {default})")
    return "Model families' options:\n\n" + "\n\n".join(lines)


def _value(flag: str, raw: str, default: Any) -> Any:
    """``raw`` as the type of ``default``; one line naming ``flag`` otherwise."""
    if isinstance(default, bool):
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise BoltzkitError(f"{flag}: expected true or false, got {raw!r}")
    try:
        return type(default)(raw)
    except ValueError:
        kind = "an integer" if isinstance(default, int) else "a number"
        raise BoltzkitError(f"{flag}: {raw!r} is not {kind}") from None


def parse(args: list[str]) -> dict[str, Any]:
    """The families' flags among ``args`` (what typer did not parse): ``flag -> value``, each
    value converted to its option's type. Anything else is refused in one line."""
    known = option_flags()
    typed: dict[str, Any] = {}
    i = 0
    while i < len(args):
        name, eq, raw = args[i].partition("=")
        negated = "--" + name[5:] if name.startswith("--no-") else None
        if negated in known and isinstance(known[negated][1], bool) and not eq:
            typed[negated] = False
        elif name in known:
            default = known[name][1]
            if isinstance(default, bool) and not eq:
                typed[name] = True
            else:
                if not eq:
                    if i + 1 >= len(args) or args[i + 1].startswith("--"):
                        raise BoltzkitError(f"{name} needs a value (see boltzkit train --help)")
                    i, raw = i + 1, args[i + 1]
                typed[name] = _value(name, raw, default)
        else:
            what = "option" if args[i].startswith("-") else "argument"
            raise BoltzkitError(f"no such {what}: {args[i]} (see boltzkit train --help)")
        i += 1
    return typed


def options_for(entry: Family, typed: Mapping[str, Any]) -> dict[str, Any]:
    """The options of family ``entry`` set by the ``typed`` flags (:func:`parse`); a flag of an
    option the family does not take is refused in one line naming the families that take it."""
    known = option_flags()
    options = {}
    for flag, value in typed.items():
        option = known[flag][0]
        if option not in entry.options or entry.flag(option) != flag:
            others = takers(option)
            raise BoltzkitError(f"{flag}: the {entry.kind} family takes no such option"
                                + (f" (it is an option of {', '.join(others)})" if others else ""))
        options[option] = value
    return options


def by_option(typed: Mapping[str, Any]) -> dict[str, Any]:
    """The ``typed`` flags (:func:`parse`) keyed by their option names (e.g. the sampler settings
    ``sample`` hands to the model, which refuses those its sampler does not take)."""
    known = option_flags()
    return {known[flag][0]: value for flag, value in typed.items()}
