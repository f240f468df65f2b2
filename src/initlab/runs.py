"""What a run is, defined once: its fields, defaults, bounds, names and its data.

A *run* is one network trained once on one data set.  Everything that
describes, checks, stores or rebuilds a run derives from the :class:`Field`
table of this module: the parameters of :class:`initlab.FFNetwork`, the
options of ``initlab train``, the keys of a study's TOML file, the store's
columns, the playground's form, the filters of ``initlab results`` and the
report's retraining (:meth:`RunSpec.network`, :meth:`RunSpec.from_row`).

Two kinds of fields:

* the **core** fields below (``hidden``, ``activation``, ``init``, ...), and
* **conditional** fields that come from the registries: each activation
  parameter (:class:`initlab._registry.Param`, e.g. leaky ReLU's slope as
  ``leaky_slope``) and each optimizer hyperparameter (``momentum``,
  ``beta1``, ...).  A conditional field exists only for the activations or
  optimizers that have it; registering a new one adds a field, with nothing
  else to edit.

Names are canonical everywhere (``"xavier"`` is ``xavier_normal``, Glorot):
aliases from PyTorch, Keras and the blog resolve to one name.  A *recipe*
(:data:`RECIPES`, today ``"blog"``) sets a published protocol at once -- the
blog's layers, its η = 1 and 50 epochs, its N(0, 1) biases and legacy random
stream -- and reads names the way the recipe does (the blog's "xavier" is
``lecun_normal``).

Examples
--------
>>> from initlab import runs
>>> spec = runs.RunSpec.make(activation="tanh", init="xavier", optimizer="Adam")
>>> spec.init, spec.optimizer, spec.beta1
('xavier_normal', 'adam', 0.9)
>>> runs.RunSpec.make(recipe="blog", activation="tanh", init="xavier").init
'lecun_normal'
>>> len(runs.grid(activation=["tanh", "relu"], seed=range(3)))
6
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import activations as _activations
from . import initializers as _initializers
from . import losses as _losses
from . import optim as _optim
from ._registry import Range, normalize
from .errors import ConfigError

__all__ = [
    "Field",
    "RunSpec",
    "Recipe",
    "RECIPES",
    "fields",
    "get_field",
    "check",
    "grid",
    "label",
    "METRICS",
    "SCHEMA_VERSION",
]

#: Version of the run schema; stores record it (see :mod:`initlab.store`).
SCHEMA_VERSION = 2
#: What a finished run measures (after its last epoch).
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc")


@dataclass(frozen=True)
class Field(Range):
    """One setting of a run: its type, default, allowed values and help, defined once.

    Attributes
    ----------
    name : str
        The run attribute and results column (``learning_rate``).
    kind : {"sizes", "name", "choice", "int", "float", "bool"}
        ``sizes`` is a tuple of positive ints; ``name`` a registered name
        (canonicalized by ``registry``); ``choice`` one of ``choices``.
    default : object
        The value when not given (``None`` for optimizer hyperparameters:
        the optimizer's own default).
    help : str
    low, high, low_open, high_open : keywords
        The allowed range of numbers (:class:`initlab._registry.Range`).
    none_means : str
        When not empty, ``None`` is allowed and means this (``"full batch"``);
        ``0`` is accepted as ``None`` for integer fields.
    registry : str
        For ``name`` fields: ``activation``, ``initializer``, ``bias``,
        ``optimizer`` or ``loss``.
    choices : tuple of str
    study_key : str
        The key of a study grid (TOML), plural for the axes usually swept.
    estimator_key : str
        :class:`~initlab.FFNetwork`'s parameter (scikit-learn's names).
    flags : tuple of str
        Extra command-line flags (``-a``).
    aliases : tuple of str
        Other keyword spellings accepted (the blog's ``eta``).
    shared : bool
        Runs must agree on it to share one population (the engine trains a
        population with one architecture, activation, optimizer, batch plan).
    owner, owners : str, tuple of str
        For conditional fields: ``"activation"`` or ``"optimizer"``, and the
        canonical names that have the field.
    param : str
        The owner's own name for it (``slope`` for ``leaky_slope``).
    since : int
        Run schema version that introduced it.  Fields from the first version
        always enter a run's hash; later ones only when they differ from their
        default, so runs stored before a field existed keep their identity.
    """

    name: str
    kind: str
    default: Any
    help: str
    none_means: str = ""
    registry: str = ""
    choices: tuple[str, ...] = ()
    study_key: str = ""
    estimator_key: str = ""
    flags: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    shared: bool = False
    owner: str = ""
    owners: tuple[str, ...] = ()
    param: str = ""
    since: int = 1

    @property
    def key(self) -> str:
        """The study (TOML) key."""
        return self.study_key or self.name

    @property
    def estimator(self) -> str:
        """The estimator's parameter name."""
        return self.estimator_key or self.name

    @property
    def conditional(self) -> bool:
        return bool(self.owner)

    def applies(self, owner_value: str | None) -> bool:
        """Whether a conditional field exists for this activation / optimizer."""
        return not self.owner or owner_value in self.owners

    def default_for(self, owner_value: str | None = None):
        """The effective default; for an optimizer hyperparameter, that optimizer's."""
        if self.owner == "optimizer" and owner_value in self.owners:
            return _optim.get(owner_value).defaults[self.name]
        return self.default

    def allowed(self) -> str:
        """What the field accepts, in words (for help texts and errors)."""
        if self.kind == "sizes":
            return "positive integers (layer widths)"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "name":
            return "one of " + ", ".join(_names(self.registry))
        what = "an integer" if self.kind == "int" else "a finite number"
        span = self.describe_range()
        out = f"{what} {span}".strip()
        if self.none_means:
            out += f", or {'0/' if self.kind == 'int' else ''}None for {self.none_means}"
        return out


def _names(registry: str) -> list[str]:
    names = _REGISTRIES[registry]().names()
    return [*names, "blog"] if registry == "bias" else names


_REGISTRIES = {
    "activation": lambda: _activations.REGISTRY,
    "initializer": lambda: _initializers.REGISTRY,
    "bias": lambda: _initializers.BIAS_REGISTRY,
    "optimizer": lambda: _optim.REGISTRY,
    "loss": lambda: _losses.REGISTRY,
}

# The core fields, in the order tables and exports show them.  The conditional fields
# (activation parameters, optimizer hyperparameters) follow their owner.
_CORE = (
    Field(
        "hidden",
        "sizes",
        (16,),
        "hidden layer widths, e.g. 16,16 (empty or 0: no hidden layer)",
        study_key="hidden",
        estimator_key="hidden_layer_sizes",
        shared=True,
    ),
    Field(
        "activation",
        "name",
        "relu",
        "hidden-layer nonlinearity",
        registry="activation",
        study_key="activations",
        flags=("-a",),
        shared=True,
    ),
    Field(
        "init",
        "name",
        "he_normal",
        "weight initializer",
        registry="initializer",
        study_key="inits",
        flags=("-i",),
    ),
    Field(
        "bias_init",
        "name",
        "zeros",
        "bias initializer ('blog': N(0, 1), zeros with the zero init)",
        registry="bias",
        study_key="bias_inits",
    ),
    Field(
        "optimizer",
        "name",
        "adam",
        "gradient-descent variant",
        registry="optimizer",
        study_key="optimizers",
        flags=("-o",),
        shared=True,
    ),
    Field(
        "learning_rate",
        "float",
        0.01,
        "step size (eta)",
        low=0.0,
        low_open=True,
        study_key="learning_rates",
        flags=("--lr",),
        aliases=("lr", "eta"),
    ),
    Field(
        "l1",
        "float",
        0.0,
        "L1 weight penalty: l1 * sum|W| (weights only), its gradient l1 * sign(W)",
        low=0.0,
        since=2,
    ),
    Field(
        "l2",
        "float",
        0.0,
        "L2 weight penalty: (l2 / 2) * sum W^2 (weights only), its gradient l2 * W",
        low=0.0,
        since=2,
    ),
    Field(
        "batch_size",
        "int",
        None,
        "samples per gradient step",
        low=1,
        none_means="full batch",
        study_key="batch_sizes",
        aliases=("mini_batch_size",),
        shared=True,
    ),
    Field(
        "epochs",
        "int",
        200,
        "passes over the training set",
        low=1,
        flags=("-e",),
        shared=True,
    ),
    Field(
        "seed",
        "int",
        0,
        "seed of the initial weights",
        low=0,
        high=2**32,
        high_open=True,
        study_key="seeds",
        estimator_key="random_state",
        flags=("-s",),
        aliases=("random_state",),
    ),
    Field(
        "loss",
        "name",
        "cross_entropy",
        "output nonlinearity and loss",
        registry="loss",
        shared=True,
    ),
    Field(
        "dtype",
        "choice",
        "float64",
        "floating-point precision",
        choices=("float64", "float32"),
        shared=True,
    ),
    Field(
        "rng_kind",
        "choice",
        "generator",
        "random stream: 'legacy' is np.random.seed's, as published NumPy recipes",
        choices=tuple(_initializers.RNG_KINDS),
        shared=True,
    ),
    Field(
        "shuffle",
        "bool",
        False,
        "reshuffle mini-batches every epoch",
        shared=True,
    ),
    Field(
        "shuffle_seed",
        "int",
        0,
        "seed of the mini-batch order",
        low=0,
        high=2**63,
        high_open=True,
        shared=True,
    ),
)

#: Study keys given as lists (the rest are one value, or a list to sweep them too).
LIST_KEYS = ("hidden", "activations", "inits", "bias_inits", "optimizers", "learning_rates",
             "batch_sizes", "epochs", "seeds")  # fmt: skip


def _activation_fields() -> list[Field]:
    out: dict[str, Field] = {}
    for name in _activations.names():
        for p in _activations.get(name).param_specs:
            key = p.key or f"{name}_{p.name}"
            if key in out:
                out[key] = _with_owner(out[key], name)
                continue
            out[key] = Field(
                key,
                "float",
                p.default,
                p.help,
                low=p.low,
                high=p.high,
                low_open=p.low_open,
                high_open=p.high_open,
                owner="activation",
                owners=(name,),
                param=p.name,
                since=p.since,
            )
    return list(out.values())


def _optimizer_fields() -> list[Field]:
    blog = {v: k for k, v in _optim.BLOG_HYPERPARAMETERS.items() if k != v}
    found: dict[str, list[str]] = {}
    for name in _optim.names():
        for key in _optim.get(name).defaults:
            found.setdefault(key, []).append(name)
    out = []
    for key, owners in found.items():
        spec = _optim.get(owners[0])
        low, high, low_open, *rest = spec.bounds.get(key, (0.0, math.inf, True))
        defaults = sorted({_optim.get(o).defaults[key] for o in owners})
        out.append(
            Field(
                key,
                "float",
                None,
                f"{key} of {', '.join(owners)} (default {', '.join(f'{d:g}' for d in defaults)})",
                low=low,
                high=high,
                low_open=low_open,
                high_open=bool(rest and rest[0]),
                none_means="the optimizer's default",
                aliases=(blog[key],) if key in blog else (),
                owner="optimizer",
                owners=tuple(owners),
                since=2,  # v1 hashed only the hyperparameters given
            )
        )
    return out


def _with_owner(f: Field, owner: str) -> Field:
    from dataclasses import replace

    return replace(f, owners=(*f.owners, owner))


_TABLES: dict[tuple, tuple[tuple[Field, ...], dict[str, Field]]] = {}


def _tables() -> tuple[tuple[Field, ...], dict[str, Field]]:
    # rebuilt when a registry grows, so a component registered later (a plugin) adds
    # its fields; cached otherwise (runs look fields up in hot loops)
    key = (len(_activations.REGISTRY), len(_optim.REGISTRY))
    tables = _TABLES.get(key)
    if tables is None:
        act, opt = _activation_fields(), _optimizer_fields()
        ordered: list[Field] = []
        for f in _CORE:
            ordered.append(f)
            if f.name == "activation":
                ordered += act
            elif f.name == "l2":
                ordered += opt  # after the learning rate and the weight penalties
        lookup: dict[str, Field] = {f.name: f for f in ordered}
        for f in ordered:
            for k in (f.key, f.estimator, *f.aliases):
                lookup.setdefault(k, f)
        tables = _TABLES[key] = (tuple(ordered), lookup)
    return tables


def fields() -> tuple[Field, ...]:
    """Every field of a run, core and conditional, in display order."""
    return _tables()[0]


def names() -> list[str]:
    """The names of every run field."""
    return [f.name for f in fields()]


def _lookup() -> dict[str, Field]:
    return _tables()[1]


def get_field(key: str) -> Field:
    """The field called ``key`` (its name, study key, estimator name or an alias)."""
    table = _lookup()
    if key in table:
        return table[key]
    close = difflib.get_close_matches(str(key), list(table), n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"unknown run setting {key!r}{hint} The settings are: {', '.join(names())}", key
    )


# --- checking one value -------------------------------------------------------------------
def _bad(f: Field, value: Any, label: str, what: str | None = None) -> ConfigError:
    return ConfigError(f"{label} must be {what or f.allowed()}, got {value!r}", f.name)


def check(f: Field | str, value: Any, label: str | None = None) -> Any:
    """The canonical form of one value of field ``f``, or a :class:`ConfigError`.

    The error names the field (``label``, default its name), the value and what is
    allowed.  Names are canonicalized (``"Adam"`` -> ``"adam"``); ``bias_init="blog"``
    stays ``"blog"`` until a grid pairs it with an initializer.
    """
    f = get_field(f) if isinstance(f, str) else f
    label = label or f.name
    if value is None:
        if f.none_means:
            return None
        raise _bad(f, value, label)
    if f.kind == "sizes":
        return _check_sizes(f, value, label)
    if f.kind == "bool":
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        raise _bad(f, value, label)
    if f.kind in ("name", "choice"):
        return _check_name(f, value, label)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise _bad(f, value, label)
    raw = value
    if f.kind == "int":
        if not isinstance(value, numbers.Integral):
            raise _bad(f, value, label)
        value = int(value)
        if f.none_means and value == 0:
            return None
    else:
        value = float(value)
        if not math.isfinite(value):
            raise _bad(f, raw, label)
    if not f.contains(value):
        raise _bad(f, raw, label)
    return value


def _check_sizes(f: Field, value: Any, label: str) -> tuple[int, ...]:
    if isinstance(value, str):
        text = value.strip().strip("[]()").replace(" ", "").replace("-", ",")
        if text in ("", "0"):
            return ()
        try:
            value = [int(t) for t in text.split(",") if t]
        except ValueError:
            raise ConfigError(
                f"{label} must be positive integers, comma-separated like '16,16', got {value!r}",
                f.name,
            ) from None
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        value = () if value == 0 else (int(value),)
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"{label} must be a sequence of positive integers, got {value!r}", f.name)
    for s in value:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, numbers.Integral) or s < 1:
            raise ConfigError(
                f"{label} must be positive integers, got {list(value)} (bad entry {s!r})", f.name
            )
    return tuple(int(s) for s in value)


def _check_name(f: Field, value: Any, label: str) -> str:
    if f.kind == "choice":
        if f.name == "dtype" and not isinstance(value, str):
            try:
                value = str(np.dtype(value))
            except (TypeError, ValueError):
                raise _bad(f, value, label) from None
        if isinstance(value, str) and normalize(value) in f.choices:
            return normalize(value)
        raise ConfigError(f"{label} must be one of {', '.join(f.choices)}, got {value!r}", f.name)
    if not isinstance(value, str):
        raise ConfigError(
            f"{label} must be a name (a string), got {value!r}; {f.allowed()}", f.name
        )
    if f.registry == "bias" and normalize(value) == "blog":
        return "blog"
    try:
        return _REGISTRIES[f.registry]().canonical(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(str(exc), f.name) from None


# --- recipes ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Recipe:
    """A published protocol: the values it sets, and how it spells names.

    Attributes
    ----------
    name : str
    values : mapping
        Field -> value, replacing the schema's defaults.
    names : mapping
        Field -> {the recipe's name: canonical name}, read before the registries
        (the blog's "xavier" is LeCun normal).
    description : str
    """

    name: str
    values: Mapping[str, Any]
    names: Mapping[str, Mapping[str, str]]
    description: str

    def translate(self, f: Field, value: Any) -> Any:
        table = self.names.get(f.name, {})
        if isinstance(value, str) and normalize(value) in table:
            return table[normalize(value)]
        return value

    def spelling(self, f: str, value: Any) -> str | None:
        """The recipe's own name for a canonical value, where it means something else
        elsewhere (the blog's "xavier" is lecun_normal; its "he" is everyone's he)."""
        field_ = get_field(f)
        for own, canonical in self.names.get(f, {}).items():
            if canonical == value and own != value:
                try:
                    elsewhere = check(field_, own)
                except ConfigError:
                    elsewhere = None
                if elsewhere != canonical:
                    return own
        return None


#: The recipes: ``blog`` is the blog post's whole protocol.
RECIPES: dict[str, Recipe] = {
    "blog": Recipe(
        "blog",
        values={
            "hidden": (2,),
            "bias_init": "blog",
            "optimizer": "gd",
            "learning_rate": 1.0,
            "epochs": 50,
            "batch_size": None,
            "rng_kind": "legacy",
            "seed": 0,  # np.random.seed(0)
        },
        names={
            "init": {
                "zeros": "zeros",
                "random": "random",
                "xavier": "lecun_normal",  # its code draws N(0, 1) * sqrt(1 / fan_in)
                "he": "he_normal",
            },
        },
        description=(
            "the blog post's protocol: layers [2, 2, 4], its 'xavier' (= lecun_normal), "
            "N(0, 1) biases (zeros for the zero init), np.random.seed's stream, full-batch "
            "gradient descent with eta 1 for 50 epochs"
        ),
    )
}


def get_recipe(name: str | Recipe | None) -> Recipe | None:
    if name is None or isinstance(name, Recipe):
        return name
    if isinstance(name, str) and normalize(name) in RECIPES:
        return RECIPES[normalize(name)]
    raise ConfigError(f"unknown recipe {name!r}; the recipes are: {', '.join(RECIPES)}", "recipe")


def label(f: str, value: Any, recipe: str | Recipe | None = None) -> str:
    """How tables show a value: canonical, with the recipe's own name beside it.

    >>> label("init", "lecun_normal", "blog")
    'lecun_normal (blog: xavier)'
    """
    text = _format(value)
    rec = get_recipe(recipe)
    own = rec.spelling(f, value) if rec is not None else None
    return f"{text} ({rec.name}: {own})" if own else text


def _format(value: Any) -> str:
    if isinstance(value, tuple):
        return "-".join(map(str, value)) or "0"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- a run --------------------------------------------------------------------------------
class RunSpec:
    """One run: a canonical value for every field that applies to it.

    Fields are attributes (``spec.activation``, ``spec.leaky_slope``,
    ``spec.momentum``); a conditional field that does not apply is ``None``.
    Build one with :meth:`make` (checked) or :func:`grid`; equal specs are
    the same run, and :meth:`hash` with a data set's key is its identity in
    the store.  Immutable, hashable and picklable (it travels to workers).
    """

    __slots__ = ("_values", "_by_name")

    def __init__(self, values: Mapping[str, Any]):
        # trusted, canonical values in field order (use make() or grid() to check them)
        object.__setattr__(self, "_values", tuple(values.items()))
        object.__setattr__(self, "_by_name", dict(values))

    @classmethod
    def make(cls, recipe: str | Recipe | None = None, **values) -> RunSpec:
        """One checked run; any field may be given (by name, study key or alias)."""
        for key, value in values.items():
            if _is_sequence(get_field(key), value):
                raise ConfigError(f"{key} must be one value, got {value!r} (use grid())", key)
        (spec,) = grid(recipe=recipe, **values)
        return spec

    # -- access -------------------------------------------------------------------------------
    def __getattr__(self, name: str):
        try:
            return object.__getattribute__(self, "_by_name")[name]
        except KeyError:
            pass
        except AttributeError:  # during unpickling, before __init__
            raise AttributeError(name) from None
        if not name.startswith("_") and name in _lookup():
            return None  # a conditional field that does not apply (or one registered later)
        raise AttributeError(f"RunSpec has no field {name!r}")

    def __setattr__(self, name, value):
        raise AttributeError("RunSpec is immutable")

    def values(self) -> dict[str, Any]:
        """Field -> value, for every field that applies."""
        return dict(self._values)

    def __eq__(self, other) -> bool:
        return isinstance(other, RunSpec) and self._values == other._values

    def __hash__(self) -> int:
        return hash(self._values)

    def __reduce__(self):
        return (RunSpec, (dict(self._values),))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._values)
        return f"RunSpec({inner})"

    def replace(self, **changes) -> RunSpec:
        """A checked copy with some fields changed.

        Conditional fields whose owner changes are dropped (they fall back to the new
        activation's or optimizer's defaults) unless given.
        """
        changed = {get_field(k).name for k in changes}
        current = {}
        for k, v in self._values:
            f = get_field(k)
            if v is not None and not (f.conditional and f.owner in changed):
                current[k] = v
        current.update({get_field(k).name: v for k, v in changes.items()})
        return RunSpec.make(**current)

    # -- what the engine needs ----------------------------------------------------------------
    @property
    def hyper(self) -> dict[str, float]:
        """The optimizer's hyperparameters (every one, defaults filled in)."""
        return {
            k: v for k, v in self._values if get_field(k).owner == "optimizer" and v is not None
        }

    @property
    def activation_params(self) -> dict[str, float]:
        """The activation's parameters by its own names (``{"slope": 0.1}``)."""
        out = {}
        for k, v in self._values:
            f = get_field(k)
            if f.owner == "activation" and v is not None:
                out[f.param] = v
        return out

    def group_key(self) -> tuple:
        """Runs with equal keys can share one population."""
        return tuple((k, v) for k, v in self._values if get_field(k).shared)

    # -- identity and rows --------------------------------------------------------------------
    def config(self) -> dict[str, Any]:
        """The run as a flat JSON-able dict (what the store keeps)."""
        out = {}
        for f in fields():
            v = self.__getattr__(f.name)
            if f.conditional and v is None and f.since > 1:
                continue
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def hash(self, data_key: str = "") -> str:
        """The run's identity on a data set (16 hex digits): a hash of its fields and data.

        Fields added after the first run schema count only when they differ from
        their default, so a run stored by an earlier initlab keeps its hash.
        """
        payload: dict[str, Any] = {"data": data_key}
        owner = {"activation": self.activation, "optimizer": self.optimizer}
        for f in fields():
            v = self.__getattr__(f.name)
            if f.since > 1 and (v is None or v == f.default_for(owner.get(f.owner))):
                continue
            payload[f.name] = list(v) if isinstance(v, tuple) else v
        text = json.dumps(payload, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def row(self) -> dict[str, Any]:
        """The run as a results row: one column per field, ``hidden`` as ``"16-16"``."""
        out = {}
        for f in fields():
            v = self.__getattr__(f.name)
            out[f.name] = _format(v) if f.kind == "sizes" else v
        return out

    @classmethod
    def from_row(cls, row: Mapping[str, Any] | Any) -> RunSpec:
        """The run of a results row or a stored config (NaN and missing mean "default")."""
        get = row.get if hasattr(row, "get") else (lambda k, d=None: row[k] if k in row else d)
        values = {}
        for f in fields():
            v = get(f.name, None)
            if _missing(v):
                continue
            if isinstance(v, np.generic):
                v = v.item()
            if f.kind == "int" and isinstance(v, float) and v.is_integer():
                v = int(v)  # a column with NaN holds ints as floats
            values[f.name] = v
        return cls.make(**values)

    def network(self, **extra):
        """An unfitted estimator configured exactly like this run: an
        :class:`initlab.FFNetwork`, or an :class:`initlab.FFRegressor` for a regression loss."""
        from .network import FFNetwork, FFRegressor

        estimator = FFRegressor if _losses.get(self.loss).regression else FFNetwork
        params = {}
        for f in fields():
            v = self.__getattr__(f.name)
            if v is not None or not f.conditional:
                params[f.estimator] = v
        params.update(extra)
        return estimator(**params)


def _missing(value) -> bool:
    """None, NaN or pandas' NA (checked without importing pandas)."""
    if value is None or type(value).__name__ == "NAType":
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


# --- grids --------------------------------------------------------------------------------
def _is_sequence(f: Field, value: Any) -> bool:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        return False
    if f.kind == "sizes":  # (8, 8) is one architecture; [(8,), (8, 8)] several
        items = list(value)
        return bool(items) and all(isinstance(v, (list, tuple)) for v in items)
    return True


def _values_of(f: Field, key: str, raw: Any, recipe: Recipe | None) -> list:
    items = list(raw) if _is_sequence(f, raw) else [raw]
    if not items:
        raise ConfigError(f"{key} is empty; give at least one value", f.name)
    out = []
    for item in items:
        if recipe is not None:
            item = recipe.translate(f, item)
        out.append(check(f, item, key))
    seen = set()
    for canon in out:
        if canon in seen:
            shown = _format(canon)
            raise ConfigError(f"{key} lists {shown!r} twice; remove the duplicate", f.name)
        seen.add(canon)
    return out


def _resolve(values: dict[str, Any]) -> dict[str, Any]:
    """Settings that depend on others, made explicit so equal runs compare equal.

    ``bias_init="blog"`` is the blog's biases: N(0, 1), zeros with the zero
    initializer; a full batch for ``minibatch`` is its default batch size (100).
    """
    out = dict(values)
    if out["bias_init"] == "blog":
        out["bias_init"] = "zeros" if out["init"] == "zeros" else "normal"
    if out["batch_size"] is None:
        out["batch_size"] = _optim.get(out["optimizer"]).default_batch_size
    return out


def grid(recipe: str | Recipe | None = None, **axes) -> list[RunSpec]:
    """Every run of a full factorial grid, checked and canonical.

    Each keyword is a field (its name, study key, estimator name or alias) with
    one value or a list; missing fields (or ``None``) take the recipe's values,
    then the defaults.  A conditional field multiplies the grid only for the
    activations or optimizers that have it (``momentum=[0.5, 0.9]`` gives two
    runs for ``momentum`` and ``nag``, one for ``adam``) and is an error when
    none of the grid's has it.

    Raises
    ------
    ConfigError
        A bad value (naming the field, the value and what is allowed), a field
        given twice, a conditional field nothing in the grid has, or two
        settings that give the same run once resolved (``bias_init=["normal",
        "blog"]`` for ``he_normal``).
    """
    rec = get_recipe(recipe)
    given: dict[str, list] = {}
    spelled: dict[str, str] = {}
    for key, raw in axes.items():
        f = get_field(key)
        if f.name in given:
            raise ConfigError(
                f"{f.name} is given twice (as {spelled[f.name]!r} and {key!r})", f.name
            )
        if raw is None:
            continue  # not given
        given[f.name], spelled[f.name] = _values_of(f, key, raw, rec), key
    defaults = dict(rec.values) if rec is not None else {}
    ordered = fields()
    core = []
    for f in ordered:
        if not f.conditional:
            core.append((f.name, given.get(f.name) or [check(f, defaults.get(f.name, f.default))]))
    conditional = [f for f in ordered if f.conditional]
    position = {f.name: i for i, f in enumerate(ordered)}

    specs: list[RunSpec] = []
    seen: dict[RunSpec, dict] = {}
    used: set[str] = set()
    for combo in itertools.product(*(vals for _, vals in core)):
        base = dict(zip((name for name, _ in core), combo, strict=True))
        axes_here = []
        for f in conditional:
            owner = base[f.owner]
            if not f.applies(owner):
                continue
            if f.name in given:
                used.add(f.name)
                axes_here.append((f.name, given[f.name]))
            else:
                axes_here.append((f.name, [f.default_for(owner)]))
        for extra in itertools.product(*(vals for _, vals in axes_here)):
            raw = {**base, **dict(zip((name for name, _ in axes_here), extra, strict=True))}
            values = _resolve(raw)
            spec = RunSpec(dict(sorted(values.items(), key=lambda kv: position[kv[0]])))
            if spec in seen:
                raise ConfigError(_duplicate_message(seen[spec], raw), "grid")
            seen[spec] = raw
            specs.append(spec)
    for name in given:
        f = get_field(name)
        if f.conditional and name not in used:
            present = given.get(f.owner) or [defaults.get(f.owner, get_field(f.owner).default)]
            whose = "this run's" if len(specs) == 1 else "this grid's"
            raise ConfigError(
                f"{spelled[name]} applies to the {f.owner}s {', '.join(f.owners)}; "
                f"none of {whose} {f.owner}s ({', '.join(map(str, present))}) has it",
                name,
            )
    return specs


def _duplicate_message(first: dict, second: dict) -> str:
    differ = [k for k in first if first[k] != second.get(k)]
    shown = " and ".join(
        ", ".join(f"{k}={_format(run[k])}" for k in differ) for run in (first, second)
    )
    why = ""
    if "bias_init" in differ:
        why = " (the blog's biases are N(0, 1), zeros for the zero init)"
    elif "batch_size" in differ:
        why = f" ({second['optimizer']}'s full batch is its default batch size)"
    return f"{shown} give the same run{why}; remove one"


# --- from runs to networks ----------------------------------------------------------------
def model_bytes(
    spec: RunSpec, n_features: int, n_outputs: int, n_train: int, n_val: int = 0
) -> int:
    """Estimated peak memory of one model of a population (bytes).

    The forward pass keeps each layer's pre-activation and activation, the
    backward pass a delta and a temporary per layer, each ``width x batch``;
    parameters, gradients, updates and up to two optimizer moments are ``5x``
    the parameter count; validation adds a forward pass.
    """
    item = np.dtype(spec.dtype).itemsize
    widths = [*spec.hidden, n_outputs]
    batch = n_train if spec.batch_size is None else min(spec.batch_size, n_train)
    sizes = [n_features, *widths]
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    rows = batch + (n_train if spec.batch_size is not None else 0)  # metrics pass
    per = item * (4 * sum(widths) * max(rows, n_val) + 5 * n_params)
    return int(per) + 256


def check_task(specs: Sequence[RunSpec], task: str, data: str = "the data") -> None:
    """Raise a :class:`ConfigError` unless every run's loss suits ``task`` (classification
    or regression), naming the losses that would."""
    for spec in specs:
        regression = _losses.get(spec.loss).regression
        if regression != (task == "regression"):
            fits = [n for n in _losses.names() if _losses.get(n).regression != regression]
            raise ConfigError(
                f"loss {spec.loss!r} is for {'regression' if regression else 'classification'}"
                f", but {data} is a {task} problem; use {' or '.join(fits)}",
                "loss",
            )


def _per_model(specs: Sequence[RunSpec], values: list) -> Any:
    """One value if every model has it, else an array with one entry per model."""
    return values[0] if all(v == values[0] for v in values) else np.array(values)


def populate(specs: Sequence[RunSpec], n_features: int, n_classes: int, X: np.ndarray):
    """The population, initial parameters and optimizer that train ``specs`` together.

    ``specs`` must share a :meth:`RunSpec.group_key`; ``X`` (the training inputs)
    is used by data-dependent initializers (LSUV).  Every path -- the estimator,
    sweeps, studies on any executor, the playground -- builds its networks here,
    so they are the same networks.
    """
    from .engine import Population, init_params

    first = specs[0]
    check_task(specs, "regression" if n_classes == 0 else "classification")
    act = _activations.get(first.activation)
    params = {
        name: _per_model(specs, [s.activation_params[name] for s in specs])
        for name in first.activation_params
    }
    if params:
        act = act.bind(**params)
    loss = _losses.get(first.loss)
    pop = Population(
        (n_features, *first.hidden, loss.n_outputs(n_classes)), act, loss, len(specs), first.dtype
    )
    weights = init_params(
        pop,
        [s.seed for s in specs],
        [s.init for s in specs],
        [s.bias_init for s in specs],
        first.rng_kind,
        X=X,
    )
    return pop, weights, build_optimizer(specs)


def build_optimizer(specs: Sequence[RunSpec]):
    """The optimizer of ``specs`` (one population): per-model learning rates and
    hyperparameters."""
    first = specs[0]
    hyper = {k: _per_model(specs, [s.hyper[k] for s in specs]) for k in first.hyper}
    lrs = np.array([s.learning_rate for s in specs])
    return _optim.get(first.optimizer).build(lrs, **hyper)


def retune(trainer, specs: Sequence[RunSpec]) -> None:
    """Give a running :func:`trainer` the training-time settings of ``specs`` (learning
    rate, optimizer hyperparameters, weight penalties), keeping its weights and state."""
    trainer.retune(
        build_optimizer(specs),
        l1=_per_model(specs, [s.l1 for s in specs]),
        l2=_per_model(specs, [s.l2 for s in specs]),
    )


# --- filters ------------------------------------------------------------------------------
_OPERATORS = ("!=", ">=", "<=", "=", ">", "<")


def parse_condition(text: str, columns: Sequence[str], recipe: str | Recipe | None = None):
    """``"init=he"`` as ``("init", "=", "he_normal")``: a typed, canonical filter.

    The column is a results column (a run field by any of its names, the data
    set, a metric); the value is read as the field reads it (``learning_rate=1``
    is 1.0, ``init=he`` is ``he_normal``, ``optimizer=Adam`` is ``adam``, names in
    the study's recipe its way).  Operators: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``.
    """
    for op in _OPERATORS:
        if op in text:
            column, raw = (t.strip() for t in text.split(op, 1))
            break
    else:
        raise ConfigError(f"a filter is COLUMN=VALUE (or !=, <, <=, >, >=), got {text!r}")
    if column not in columns:
        try:
            column = get_field(column).name
        except ConfigError:
            pass
    if column not in columns:
        close = difflib.get_close_matches(column, list(columns), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown column {column!r}{hint} Columns: {', '.join(columns)}")
    return column, op, _filter_value(column, raw, recipe)


def _filter_value(column: str, raw: str, recipe) -> Any:
    table = _lookup()
    if column not in table or column == "dataset":
        try:
            return float(raw)
        except ValueError:
            return raw
    f = table[column]
    if raw.lower() in ("none", "null", "-", "") and (f.none_means or f.conditional):
        return None
    if f.kind == "bool":
        if raw.lower() not in ("true", "false"):
            raise ConfigError(f"{column} is true or false, got {raw!r}", column)
        return raw.lower() == "true"
    if f.kind in ("int", "float"):
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{column} is a number, got {raw!r}", column) from None
        return check(f, int(value) if f.kind == "int" and value.is_integer() else value)
    if f.kind == "sizes":
        return _format(check(f, raw))
    rec = get_recipe(recipe)
    return check(f, rec.translate(f, raw) if rec else raw)


def select(frame, column: str, op: str, value: Any):
    """The rows of a results frame where ``column op value`` (``None`` matches missing)."""
    col = frame[column]
    if value is None:
        mask = col.isna() if op == "=" else col.notna()
    elif op == "=":
        mask = col == value
    elif op == "!=":
        mask = col != value
    else:
        numeric = col.astype(float)
        mask = {">": numeric > value, "<": numeric < value, ">=": numeric >= value,
                "<=": numeric <= value}[op]  # fmt: skip
    return frame[mask]


def trainer(specs: Sequence[RunSpec], population, params, optimizer, X, y, X_val=None, y_val=None,
            **options):  # fmt: skip
    """The :class:`initlab.engine.Trainer` of ``specs`` (built by :func:`populate`): their
    batch plan (batch size, shuffling and its seed, shared) and weight penalties (per
    model); ``options`` go to the Trainer (``record``, ``snapshots``, ``engine``)."""
    from .engine import Trainer

    first = specs[0]
    return Trainer(
        population,
        params,
        optimizer,
        X,
        y,
        X_val,
        y_val,
        batch_size=first.batch_size,
        shuffle=first.shuffle,
        shuffle_seed=first.shuffle_seed,
        l1=_per_model(specs, [s.l1 for s in specs]),
        l2=_per_model(specs, [s.l2 for s in specs]),
        **{"epochs": first.epochs, **options},
    )
