"""A tiny name registry with helpful errors, shared by every pluggable concept.

Activations, initializers, optimizers, losses and data sets are looked up by
name.  Names are case-insensitive and ``-``/``_``/space-insensitive, aliases
are allowed, and an unknown name raises a :class:`ValueError` that suggests
the closest valid name and lists all of them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

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
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._aliases: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}

    def register(
        self, name: str, entry: T, *, aliases: tuple[str, ...] = (), description: str = ""
    ) -> T:
        key = normalize(name)
        if key in self._entries or key in self._aliases:
            raise ValueError(f"{self.kind} {name!r} is already registered")
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
        key = normalize(name)
        if key in self._entries:
            return key
        if key in self._aliases:
            return self._aliases[key]
        candidates = list(self._entries) + list(self._aliases)
        close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
        hint = f"; did you mean {self._aliases.get(close[0], close[0])!r}?" if close else ""
        raise ValueError(
            f"unknown {self.kind} {name!r}{hint} Choose one of: {', '.join(self.names())}"
        )

    def get(self, name: str) -> T:
        return self._entries[self.canonical(name)]

    def names(self) -> list[str]:
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
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def check_params(kind: str, name: str, given, allowed) -> None:
    """Raise a ``ValueError`` naming the parameters of ``given`` that ``allowed`` lacks."""
    unknown = set(given) - set(allowed)
    if unknown:
        raise ValueError(
            f"{kind} {name!r} has no parameter(s) {', '.join(sorted(unknown))}; "
            f"its parameters are: {', '.join(allowed) or 'none'}"
        )


@dataclass(frozen=True)
class Param:
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
    low, high : float
        Allowed range; ``low_open``/``high_open`` exclude the ends.
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
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    key: str | None = None
    since: int = 2
