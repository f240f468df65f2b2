"""A tiny name registry with helpful errors, shared by every pluggable concept.

Activations, initializers, optimizers, losses, data sets and experiments are
looked up by name.  Names are case-insensitive and ``-``/``_``/space-insensitive,
aliases are allowed, and an unknown name raises a :class:`ValueError` that
suggests the closest valid name and lists all of them.

A registry with an entry-point ``group`` loads the components of other
packages and of the ``INITLAB_PLUGINS`` modules the first time it looks a name
up (see :mod:`initlab.plugins`), in the main process and in every worker alike.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


def normalize(name: str) -> str:
    """Canonical spelling of a user-supplied name: lower case, ``_`` separators."""
    return name.strip().lower().replace("-", "_").replace(" ", "_")


class Registry(Generic[T]):
    """Maps canonical names (and aliases) to entries of one kind.

    Parameters
    ----------
    kind : str
        What the entries are, for error messages ("activation", "optimizer").
    group : str, optional
        The entry-point group of its plugins (``"initlab.activations"``).
    """

    def __init__(self, kind: str, group: str | None = None):
        self.kind = kind
        self.group = group
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}
        self._plugins_loaded = group is None

    def _load_plugins(self) -> None:
        """Import the group's entry points and the INITLAB_PLUGINS modules, once."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True  # first: the plugins' own registrations must not recurse
        from . import plugins

        try:
            plugins.load(self.group)
        except BaseException:
            self._plugins_loaded = False  # fail again, as loudly, at the next lookup
            raise

    def register(
        self, name: str, entry: T, *, aliases: tuple[str, ...] = (), description: str = ""
    ) -> T:
        key = normalize(name)
        if key in self._entries or key in self._aliases:
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self._entries[key] = entry
        self._descriptions[key] = description
        for alias in aliases:
            self._aliases[normalize(alias)] = key
        return entry

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (or an alias of it) refers to."""
        if not isinstance(name, str):
            raise TypeError(
                f"{self.kind} must be given by name (a str), got {type(name).__name__} {name!r}; "
                f"choose one of: {', '.join(self.names())}"
            )
        self._load_plugins()
        key = normalize(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        hint = f"; did you mean {self._aliases.get(close[0], close[0])!r}?" if close else ""
        raise ConfigError(
            f"unknown {self.kind} {name!r}{hint} Choose one of: {', '.join(self.names())}"
        )

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
        self._load_plugins()
        return list(self._entries)

    def aliases(self, name: str) -> list[str]:
        key = self.canonical(name)
        return [a for a, k in self._aliases.items() if k == key]

    def describe(self, name: str) -> str:
        return self._descriptions[self.canonical(name)]

    def __contains__(self, name: object) -> bool:
        try:
            self.canonical(name)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def check_params(kind: str, name: str, given, allowed) -> None:
    """Raise a ``ValueError`` naming the parameters of ``given`` that ``allowed`` lacks."""
    unknown = set(given) - set(allowed)
    if unknown:
        raise ConfigError(
            f"{kind} {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
            f"its parameters are: {', '.join(allowed) or 'none'}"
        )


def describe_range(low: float, high: float, low_open: bool, high_open: bool = False) -> str:
    """``"> 0"``, ``">= 1"``, ``"in [0, 1)"``: an allowed range, as error messages say it."""

    def num(x: float) -> str:
        for k in (32, 63):  # seeds and SQLite integers
            if x == 2**k:
                return f"2**{k}"
        return f"{x:g}"

    if math.isinf(high):
        if math.isinf(low):
            return ""
        return f"> {num(low)}" if low_open else f">= {num(low)}"
    if math.isinf(low):
        return f"< {num(high)}" if high_open else f"<= {num(high)}"
    return f"in {'(' if low_open else '['}{num(low)}, {num(high)}{')' if high_open else ']'}"


@dataclass(frozen=True, kw_only=True)
class Range:
    """An allowed range of numbers, ``[low, high]``, either end possibly open."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def describe_range(self) -> str:
        """The range in words (``"in [0, 1)"``), see :func:`describe_range`."""
        return describe_range(self.low, self.high, self.low_open, self.high_open)


@dataclass(frozen=True)
class Param(Range):
    """A numeric hyperparameter of a registered component, declared where the component is.

    The run schema (:mod:`initlab.runs`) turns each into a run field, so a new
    parameter is sweepable, storable, a command-line option and a playground
    control the moment it is registered.

    Attributes
    ----------
    name : str
        The component's own name for it (``slope`` of ``leaky_relu``).
    default : float
    help : str
        One line: what it does.
    low, high, low_open, high_open : keywords
        Allowed range (:class:`Range`).
    key : str, optional
        The run field's name (default ``"<component>_<name>"``, e.g. ``elu_alpha``).
    since : int
        The run schema version that introduced the field; fields added after
        the first enter a run's hash only when they differ from the default,
        so runs stored before them keep their identity.
    """

    name: str
    default: float
    help: str
    key: str | None = None
    since: int = 2
