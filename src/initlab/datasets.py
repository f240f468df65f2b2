"""Data sets by name: toy problems, the blog post's blobs, scikit-learn's real sets, your files.

Every data set is loaded with :func:`load` and comes back as one frozen
:class:`Dataset` holding a seeded, *stratified* train/validation split, the
integer-coded labels ``0..K-1``, the original label values (``classes``) and
the options that re-create it::

    ds = load("moons", noise=0.3, random_state=1)
    again = load(ds.name, **ds.options)      # bit-identical

Registered sets (see :func:`names` and :func:`describe`):

* ``"blog"`` -- exactly the blog post's data: ``make_blobs(n_samples=1000,
  centers=4, n_features=2, random_state=0)`` split by
  ``train_test_split(data, labels, stratify=labels, random_state=0)``;
  ``labels="mod2"`` gives the binary version the blog's text describes.
* ``"blobs"``, ``"moons"``, ``"circles"`` -- scikit-learn's generators.
* ``"xor"``, ``"spiral"``, ``"gauss"`` -- the TensorFlow Playground sets, in NumPy.
* ``"iris"``, ``"wine"``, ``"breast_cancer"``, ``"digits"`` -- the real data
  sets shipped inside scikit-learn (no network).
* ``"csv"``, ``"npz"`` -- a file of your own; ``load("data.csv", target="label")``
  works too.

Options common to every set: ``val_size`` (fraction in (0, 1), default 0.25),
``random_state`` (int, default 0: seeds the generator and, unless
``split_seed`` is given, the split), ``split_seed`` and ``standardize``
(default True except for ``"blog"``: mean and std are fitted on the training
part only and applied to both parts).

:func:`check_finite` and :func:`validate_xy` are the input checks, public
because the estimator reuses them.  This module never imports pandas.
"""

from __future__ import annotations

import csv
import difflib
import hashlib
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from ._registry import Registry
from .errors import ConfigError

__all__ = [
    "Dataset",
    "REGISTRY",
    "register",
    "check_finite",
    "defaults",
    "describe",
    "expand_features",
    "feature_names",
    "from_arrays",
    "load",
    "names",
    "validate_xy",
]

#: How many offending positions an error message lists.
_SHOW = 5


# --------------------------------------------------------------------------- the Dataset


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, order="C")  # a private copy, so the caller's array stays writeable
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/validation split with its labels, metadata and the options that made it.

    The arrays are read-only; copy them before changing them in place.

    Attributes
    ----------
    X_train, X_val : ndarray of float64, shape (n_train, d) and (n_val, d)
        Features (standardized with the training statistics when
        ``options["standardize"]`` is true).
    y_train, y_val : ndarray of int64, shape (n_train,) and (n_val,)
        Labels coded ``0..K-1``; ``classes[y]`` are the original values.
    name : str
        Registered name (``"moons"``, ``"csv"``) or a caller's name for arrays.
    classes : ndarray, shape (K,)
        The original label values, sorted (may be strings, e.g. from a CSV).
    feature_names : tuple of str
        One name per column of ``X``.
    description : str
        One line saying what the data is.
    options : dict
        Every option used, JSON-serializable: ``load(name, **options)``
        re-creates the data set.
    scaler : dict or None
        ``{"mean": [...], "std": [...]}`` (training statistics, lists of
        floats) when standardized, else ``None``.
    source : {"registry", "file", "arrays"}
        Where the data came from: a generated or bundled set (its options
        re-create it), a file, or arrays handed over (both identified by content).
    task : {"classification", "regression"}
        Regression sets have real-valued ``y`` (float64) and no ``classes``.
    input_names : tuple of str
        The raw inputs' names when ``options["features"]`` engineered the
        columns from them (:func:`expand_features`); empty otherwise.
    """

    X_train: np.ndarray
    X_val: np.ndarray
    y_train: np.ndarray
    y_val: np.ndarray
    name: str
    classes: np.ndarray
    feature_names: tuple[str, ...]
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    scaler: dict[str, list[float]] | None = None
    source: str = "registry"
    task: str = "classification"
    input_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for attr in ("X_train", "X_val", "y_train", "y_val", "classes"):
            object.__setattr__(self, attr, _readonly(getattr(self, attr)))

    @property
    def n_classes(self) -> int:
        """Number of classes ``K`` (0 for a regression set)."""
        return len(self.classes)

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def n_features(self) -> int:
        """Number of input features ``d``."""
        return self.X_train.shape[1]

    @property
    def n_train(self) -> int:
        return self.X_train.shape[0]

    @property
    def n_val(self) -> int:
        return self.X_val.shape[0]

    @property
    def X(self) -> np.ndarray:
        """Training then validation features, concatenated."""
        return np.concatenate([self.X_train, self.X_val])

    @property
    def y(self) -> np.ndarray:
        """Training then validation labels, concatenated (same order as :attr:`X`)."""
        return np.concatenate([self.y_train, self.y_val])

    def decode(self, y_int: Any) -> np.ndarray:
        """Map integer-coded labels back to the original label values.

        Parameters
        ----------
        y_int : array_like of int
            Codes in ``0..n_classes-1`` (e.g. a network's predictions).

        Returns
        -------
        ndarray
            ``classes[y_int]``, same shape as ``y_int``.
        """
        codes = np.asarray(y_int)
        if codes.size and (
            codes.dtype.kind not in "iu"
            and not (codes.dtype.kind == "f" and np.all(np.mod(codes, 1) == 0))
        ):
            raise ConfigError(
                f"decode expects integer class codes 0..{self.n_classes - 1}, "
                f"got dtype {codes.dtype}"
            )
        codes = codes.astype(np.int64)
        bad = (codes < 0) | (codes >= self.n_classes)
        if np.any(bad):
            raise ConfigError(
                f"class code(s) {sorted(set(codes[bad].tolist()))[:_SHOW]} out of range; "
                f"{self.name!r} has {self.n_classes} classes, codes 0..{self.n_classes - 1}"
            )
        return self.classes[codes]

    @property
    def n_inputs(self) -> int:
        """Number of raw inputs (before engineered features; else :attr:`n_features`)."""
        return len(self.input_names) or self.n_features

    def transform(self, X: Any) -> np.ndarray:
        """Apply this data set's standardization (if any) and engineered features (if
        any) to new raw inputs ``X`` of shape ``(n, n_inputs)``."""
        X = validate_x(X, n_features=self.n_inputs)
        if self.scaler is not None:
            X = (X - np.asarray(self.scaler["mean"])) / np.asarray(self.scaler["std"])
        features = self.options.get("features")
        return X if not features else expand_features(X, features)

    # -- identity ---------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the data itself: both parts' features and labels, and the classes."""
        h = hashlib.sha256()
        for a in (self.X_train, self.X_val, self.y_train, self.y_val):
            h.update(str((a.dtype.str, a.shape)).encode())
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(json.dumps([str(c) for c in self.classes.tolist()]).encode())
        return h.hexdigest()

    @cached_property
    def identity(self) -> dict[str, Any]:
        """What makes this data set this data set: a run's results depend on exactly it.

        A generated or bundled set is its name and options (they re-create it).  A
        file, or arrays handed over, is its content (:attr:`fingerprint`) and options:
        the same file moved keeps its identity, an edited one gets a new one.
        """
        out: dict[str, Any] = {"name": self.name, **dict(self.options)}
        if self.source != "registry":
            out.pop("path", None)
            out["sha256"] = self.fingerprint
        return out

    @cached_property
    def key(self) -> str:
        """:attr:`identity` as canonical JSON (part of every run's hash)."""
        return json.dumps(self.identity, sort_keys=True, default=str)

    @cached_property
    def id(self) -> str:
        """A short stable identifier of :attr:`identity` (16 hex digits)."""
        return hashlib.sha256(self.key.encode()).hexdigest()[:16]

    @cached_property
    def label(self) -> str:
        """A readable name: the file's stem, or the set's name with options that differ
        from its defaults (``moons(noise=0.4)``)."""
        if self.source == "file":
            return Path(str(self.options["path"])).stem
        if self.source == "arrays":
            return self.name
        base = {**defaults(self.name)}
        if base.get("split_seed") is None:
            base["split_seed"] = self.options.get("random_state", 0)
        changed = [
            f"{k}={_short(v)}"
            for k, v in self.options.items()
            if k in base and base[k] != v and not (k == "split_seed" and v == base["split_seed"])
        ]
        return f"{self.name}({', '.join(changed)})" if changed else self.name

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, n_train={self.n_train}, n_val={self.n_val}, "
            f"n_features={self.n_features}, n_classes={self.n_classes})"
        )


def _short(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


# --------------------------------------------------------------------------- input checks


def _as_float(X: Any, name: str) -> np.ndarray:
    """``X`` as a float64 array, or a ValueError naming the first non-numeric entry."""
    arr = np.asarray(X)
    if arr.dtype.kind in "biuf":
        return arr.astype(np.float64, copy=False)
    if arr.dtype.kind == "c":
        raise ConfigError(f"{name} must be real-valued, got complex dtype {arr.dtype}")
    for index in np.ndindex(arr.shape):
        value = arr[index]
        try:
            float(value)
        except (TypeError, ValueError):
            where = f" at index {index}" if index else ""
            raise ConfigError(
                f"{name} must be numeric; found {value!r} ({type(value).__name__}){where}"
            ) from None
    try:
        return arr.astype(np.float64)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested sequences
        raise ConfigError(f"{name} must be a numeric array: {exc}") from None


def _nonfinite_error(
    arr: np.ndarray,
    name: str,
    rows: Sequence[Any] | None = None,
    columns: Sequence[Any] | None = None,
) -> ValueError | None:
    bad = ~np.isfinite(arr)
    count = int(bad.sum())
    if not count:
        return None
    n_nan = int(np.isnan(arr).sum())
    positions = np.argwhere(bad)[:_SHOW].tolist()  # plain ints for the message
    if arr.ndim == 2:
        label = "(row, column)" if rows is None else "(line, column)"
        shown = ", ".join(
            f"({rows[i] if rows is not None else i}, {columns[j] if columns is not None else j!r})"
            for i, j in positions
        )
    else:
        label = "index"
        shown = ", ".join(str(tuple(p) if len(p) != 1 else p[0]) for p in positions)
    more = ", ..." if count > _SHOW else ""
    return ValueError(
        f"{name} contains {count} non-finite value(s) ({n_nan} NaN, {count - n_nan} inf) "
        f"out of {arr.size}; first at {label}: {shown}{more}. Remove or impute them first."
    )


def check_finite(X: Any, name: str = "X") -> np.ndarray:
    """Raise a clear ``ValueError`` if ``X`` holds NaN or infinity.

    Parameters
    ----------
    X : array_like
        Numeric array of any shape (typically ``(n_samples, n_features)``).
    name : str, default "X"
        What to call the array in the message.

    Returns
    -------
    ndarray of float64
        ``X`` as a float array (unchanged values), for use inline.

    Raises
    ------
    ValueError
        If ``X`` is not numeric, or contains NaN/inf: the message says how
        many, how many of each, and the first few (row, column) positions.

    Examples
    --------
    >>> check_finite([[1.0, float("nan")]])
    Traceback (most recent call last):
    ...
    ValueError: X contains 1 non-finite value(s) (1 NaN, 0 inf) out of 2; first at (row, column): (0, 1). ...
    """  # noqa: E501
    arr = _as_float(X, name)
    error = _nonfinite_error(arr, name)
    if error is not None:
        raise error
    return arr


def validate_x(X: Any, name: str = "X", *, n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite float64 2-D array with at least one row and column."""
    try:
        arr = np.asarray(X)
    except ValueError as exc:  # ragged nested lists
        raise ConfigError(f"{name} must be a rectangular numeric array: {exc}") from None
    if arr.ndim != 2:
        hint = " (use X.reshape(-1, 1) for a single feature)" if arr.ndim == 1 else ""
        raise ConfigError(
            f"{name} must be 2-D with shape (n_samples, n_features), "
            f"got {arr.ndim}-D shape {arr.shape}{hint}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ConfigError(
            f"{name} is empty: shape {arr.shape}; need at least 1 sample and 1 feature"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ConfigError(f"{name} has {arr.shape[1]} features, expected {n_features}")
    return np.ascontiguousarray(check_finite(arr, name))


def validate_xy(
    X: Any, y: Any, *, x_name: str = "X", y_name: str = "y", min_classes: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """Check a feature matrix and its labels before training.

    Parameters
    ----------
    X : array_like, shape (n_samples, n_features)
        Numeric, finite features.
    y : array_like, shape (n_samples,)
        Class labels of any sortable type (ints, strings).
    x_name, y_name : str
        What to call the arrays in messages (``"X_val"``).
    min_classes : int, default 2
        Fewest distinct labels accepted (pass 1 to check a validation part).

    Returns
    -------
    X : ndarray of float64, shape (n_samples, n_features)
    y : ndarray, shape (n_samples,)

    Raises
    ------
    ValueError
        With a message naming the problem: ``X`` not 2-D or not numeric,
        NaN/inf in ``X`` (how many, where), ``y`` not 1-D, different
        lengths (both given), no samples, too few classes (the one found).
    """
    X = validate_x(X, x_name)
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        raise ConfigError(
            f"{y_name} must be 1-D, got shape {y.shape}; use {y_name}.ravel() for a column vector"
        )
    if y.ndim != 1:
        raise ConfigError(f"{y_name} must be 1-D (one label per sample), got shape {y.shape}")
    if len(y) != len(X):
        raise ConfigError(
            f"{x_name} and {y_name} have different lengths: "
            f"{x_name} has {len(X)} samples, {y_name} has {len(y)}"
        )
    if y.dtype.kind == "f":
        error = _nonfinite_error(y, y_name)
        if error is not None:
            raise error
    try:
        found = np.unique(y)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in y.tolist()})
        raise ConfigError(
            f"{y_name} mixes label types ({', '.join(kinds)}); use one type for all labels"
        ) from None
    if len(found) < min_classes:
        raise ConfigError(
            f"{y_name} has only {len(found)} class ({found[0].item()!r} found); "
            f"need at least {min_classes} classes to train a classifier"
        )
    return X, y


# --------------------------------------------------------------------------- features

#: TensorFlow Playground's engineered inputs, as patterns over the raw inputs
#: ``x1 .. xd`` (1-based): the input itself, its square, its sine, a product of two.
_FEATURE_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"x(\d+)", "xi"),
    (r"x(\d+)\^2", "xi^2"),
    (r"sin\(x(\d+)\)", "sin(xi)"),
    (r"x(\d+)\*x(\d+)", "xi*xj"),
)


def feature_names(n_inputs: int = 2) -> list[str]:
    """Every engineered feature of ``n_inputs`` raw inputs, in TF Playground's order.

    >>> feature_names(2)
    ['x1', 'x2', 'x1^2', 'x2^2', 'x1*x2', 'sin(x1)', 'sin(x2)']
    """
    xs = [f"x{i + 1}" for i in range(n_inputs)]
    pairs = [f"{a}*{b}" for k, a in enumerate(xs) for b in xs[k + 1 :]]
    return [*xs, *(f"{x}^2" for x in xs), *pairs, *(f"sin({x})" for x in xs)]


def _parse_feature(name: Any, n_inputs: int) -> tuple[str, list[int]]:
    """A feature name as (kind, 0-based input indices); ConfigError naming what is allowed."""
    import re

    text = ""
    if isinstance(name, str):
        text = name.replace(" ", "").replace("²", "^2").replace("·", "*")
    for pattern, kind in _FEATURE_PATTERNS:
        match = re.fullmatch(pattern, text)
        if match:
            idx = [int(g) - 1 for g in match.groups()]
            if all(0 <= i < n_inputs for i in idx):
                return kind, idx
    raise ConfigError(
        f"unknown feature {name!r} for {n_inputs} inputs; use names like "
        f"{', '.join(feature_names(min(n_inputs, 2)))} (inputs x1..x{n_inputs})",
        "features",
    )


def check_features(features: Any, n_inputs: int) -> tuple[str, ...]:
    """``features`` checked against ``n_inputs`` raw inputs: canonical names, no repeats."""
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise ConfigError(
            f"features must be a non-empty list of names such as {feature_names(2)}, "
            f"got {features!r}",
            "features",
        )
    out = []
    for f in features:
        kind, idx = _parse_feature(f, n_inputs)
        xs = [f"x{i + 1}" for i in idx]
        out.append(kind.replace("xi", xs[0]).replace("xj", xs[-1]))
    repeated = sorted({f for f in out if out.count(f) > 1})
    if repeated:
        raise ConfigError(f"features lists {repeated[0]!r} twice", "features")
    return tuple(out)


def expand_features(X: Any, features: Sequence[str]) -> np.ndarray:
    """The engineered features of raw inputs ``X``, one column per name.

    TensorFlow Playground feeds its network ``x1, x2, x1², x2², x1·x2, sin x1,
    sin x2`` (any subset); this is the same transform for any number of inputs,
    usable by :class:`initlab.FFNetwork` users and recorded by :func:`load`'s
    ``features`` option (so a study re-creates it).

    Parameters
    ----------
    X : array_like, shape (n, d)
        Raw inputs; ``xi`` is column ``i - 1``.
    features : sequence of str
        Names ``xi``, ``xi^2``, ``xi*xj``, ``sin(xi)`` (see :func:`feature_names`).

    Returns
    -------
    ndarray, shape (n, len(features))

    Examples
    --------
    >>> expand_features([[1.0, 2.0]], ["x1", "x1*x2", "x2^2"]).tolist()
    [[1.0, 2.0, 4.0]]
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ConfigError(f"X must be 2-D (n, d), got shape {X.shape}", "X")
    cols = []
    for name in features:
        kind, idx = _parse_feature(name, X.shape[1])
        x = X[:, idx[0]]
        if kind == "xi":
            cols.append(x)
        elif kind == "xi^2":
            cols.append(x * x)
        elif kind == "sin(xi)":
            cols.append(np.sin(x))
        else:
            cols.append(x * X[:, idx[1]])
    return np.column_stack(cols) if cols else np.empty((len(X), 0))


# --------------------------------------------------------------------------- options


def _int_option(key: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{key} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ConfigError(f"{key} must be >= {minimum}, got {value}")
    return int(value)


def _float_option(key: str, value: Any, low: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{key} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < low or (low_open and value == low):
        op = ">" if low_open else ">="
        raise ConfigError(f"{key} must be a finite number {op} {low}, got {value}")
    return value


def _choice_option(key: str, value: Any, allowed: Sequence[str]) -> str:
    if value not in allowed:
        raise ConfigError(f"{key} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _min_split_size(n_classes: int, val_size: float) -> int:
    """Fewest samples for which a stratified split leaves every class on both sides."""
    n = 2 * n_classes
    while True:
        n_val = math.ceil(val_size * n)  # how train_test_split sizes the test part
        if n_val >= n_classes and n - n_val >= n_classes:
            return n
        n += 1


# --------------------------------------------------------------------------- sources


class _Raw(NamedTuple):
    """What a source produces before the split."""

    X: Any
    y: Any
    feature_names: Sequence[str]
    stratify: np.ndarray | None = None  # split by these instead of y (the blog's recipe)
    class_names: Sequence[Any] | None = None  # original names of the codes in y
    description: str | None = None
    rows: Sequence[int] | None = None  # file line numbers, for messages
    task: str = "classification"  # or "regression": y is real-valued


@dataclass(frozen=True)
class _Source:
    make: Callable[..., _Raw]
    defaults: Mapping[str, Any]  # the set's own options (common ones are added by load)
    standardize: bool = True
    n_classes: Callable[[dict], int] | None = None  # for the n_samples pre-check
    task: str = "classification"  # or "regression"


#: The registry of data sets by name.
REGISTRY: Registry[_Source] = Registry("data set", "initlab.datasets")

_COMMON: dict[str, Any] = {
    "val_size": 0.25,
    "random_state": 0,
    "split_seed": None,
    "features": None,
}


def register(
    name: str,
    make: Callable[..., Any],
    defaults: Mapping[str, Any] | None = None,
    *,
    description: str,
    standardize: bool = True,
    aliases: tuple[str, ...] = (),
) -> None:
    """Make a data set known to :func:`load` (and to sweeps, studies, the CLI) by ``name``.

    Parameters
    ----------
    name : str
    make : callable
        ``make(**options, random_state=seed) -> (X, y)`` or ``(X, y, feature_names)``:
        all the samples; :func:`load` splits and standardizes them.
    defaults : mapping, optional
        The set's own options and their defaults (``{"n_samples": 500}``).
    description : str
    standardize : bool
        Whether :func:`load` standardizes the features by default.
    aliases : names that also find it
    """

    def raw(**options) -> _Raw:
        out = make(**options)
        if isinstance(out, _Raw):
            return out
        X, y, *rest = out
        X = np.asarray(X)
        return _Raw(X, y, list(rest[0]) if rest else _xy_names(X.shape[1]))

    REGISTRY.register(
        name,
        _Source(raw, dict(defaults or {}), standardize=standardize),
        aliases=aliases,
        description=description,
    )


def _xy_names(d: int) -> tuple[str, ...]:
    return tuple(f"x{i + 1}" for i in range(d))


def _make_blog(labels: str, random_state: int) -> _Raw:
    from sklearn.datasets import make_blobs

    _choice_option("labels", labels, ("4class", "mod2"))
    data, labels_orig = make_blobs(
        n_samples=1000, centers=4, n_features=2, random_state=random_state
    )
    y = labels_orig if labels == "4class" else np.mod(labels_orig, 2)
    # The blog stratifies by the ORIGINAL four blobs even for the binary labels.
    return _Raw(data, y, _xy_names(2), stratify=labels_orig)


def _n_centers(centers: Any) -> int:
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        return _int_option("centers", centers, 2)
    centers = _as_float(centers, "centers")
    if centers.ndim != 2 or len(centers) < 2:
        raise ConfigError(
            "centers must be an integer >= 2 or a list of >= 2 points "
            f"(n_centers, n_features), got shape {centers.shape}"
        )
    return len(centers)


def _make_blobs(
    n_samples: int, centers: Any, n_features: int, cluster_std: float, random_state: int
) -> _Raw:
    from sklearn.datasets import make_blobs

    n_samples = _int_option("n_samples", n_samples, 1)
    n_features = _int_option("n_features", n_features, 1)
    cluster_std = _float_option("cluster_std", cluster_std, 0.0, low_open=True)
    _n_centers(centers)
    if isinstance(centers, (int, np.integer)):
        centers = int(centers)
    else:
        centers = _as_float(centers, "centers")
        n_features = centers.shape[1]
    X, y = make_blobs(
        n_samples=n_samples,
        centers=centers,
        n_features=n_features,
        cluster_std=cluster_std,
        random_state=random_state,
    )
    return _Raw(X, y, _xy_names(X.shape[1]))


def _make_moons(n_samples: int, noise: float, random_state: int) -> _Raw:
    from sklearn.datasets import make_moons

    n_samples = _int_option("n_samples", n_samples, 1)
    noise = _float_option("noise", noise, 0.0)
    X, y = make_moons(n_samples=n_samples, noise=noise, random_state=random_state)
    return _Raw(X, y, _xy_names(2))


def _make_circles(n_samples: int, noise: float, factor: float, random_state: int) -> _Raw:
    from sklearn.datasets import make_circles

    n_samples = _int_option("n_samples", n_samples, 1)
    noise = _float_option("noise", noise, 0.0)
    factor = _float_option("factor", factor, 0.0)
    if factor >= 1:
        raise ConfigError(f"factor (inner/outer radius) must be in [0, 1), got {factor}")
    X, y = make_circles(n_samples=n_samples, noise=noise, factor=factor, random_state=random_state)
    return _Raw(X, y, _xy_names(2))


# The TensorFlow Playground sets (playground/src/dataset.ts), labels -1 / +1 as there.
# Their noise slider runs 0..50 and is divided by 100, hence noise in [0, 0.5].


def _playground_args(n_samples: int, noise: float, random_state: int):
    n_samples = _int_option("n_samples", n_samples, 1)
    noise = _float_option("noise", noise, 0.0)
    return n_samples, noise, np.random.default_rng(random_state)


def _make_xor(n_samples: int, noise: float, random_state: int) -> _Raw:
    n, noise, rng = _playground_args(n_samples, noise, random_state)
    padding = 0.3  # pushes points 0.3 away from the axes, so the classes do not touch
    xy = rng.uniform(-5, 5, size=(n, 2))
    xy += np.where(xy > 0, padding, -padding)
    jitter = rng.uniform(-5, 5, size=(n, 2)) * noise  # noise moves the label, not the point
    shifted = xy + jitter
    y = np.where(shifted[:, 0] * shifted[:, 1] >= 0, 1, -1)
    return _Raw(xy, y, _xy_names(2))


def _make_spiral(n_samples: int, noise: float, random_state: int) -> _Raw:
    n, noise, rng = _playground_args(n_samples, noise, random_state)
    half = n / 2
    parts, labels = [], []
    for delta, label, count in ((0.0, 1, n - n // 2), (np.pi, -1, n // 2)):
        i = np.arange(count)
        r = i / half * 5
        t = 1.75 * i / half * 2 * np.pi + delta  # 1.75 turns
        pts = np.column_stack([r * np.sin(t), r * np.cos(t)])
        parts.append(pts + rng.uniform(-1, 1, size=(count, 2)) * noise)
        labels.append(np.full(count, label))
    return _Raw(np.concatenate(parts), np.concatenate(labels), _xy_names(2))


def _make_gauss(n_samples: int, noise: float, random_state: int) -> _Raw:
    n, noise, rng = _playground_args(n_samples, noise, random_state)
    variance = 0.5 + noise * (4 - 0.5) / 0.5  # d3 linear scale [0, 0.5] -> [0.5, 4]
    parts, labels = [], []
    for centre, label, count in (((2, 2), 1, n - n // 2), ((-2, -2), -1, n // 2)):
        parts.append(rng.normal(centre, math.sqrt(variance), size=(count, 2)))
        labels.append(np.full(count, label))
    return _Raw(np.concatenate(parts), np.concatenate(labels), _xy_names(2))


# TF Playground's regression sets (regressPlane, regressGaussian): points uniform in
# [-6, 6]^2, noise moves where the target is read, not the point.
_REGRESSION_RADIUS = 6.0


def _regression_points(n_samples: int, noise: float, random_state: int):
    n, noise, rng = _playground_args(n_samples, noise, random_state)
    r = _REGRESSION_RADIUS
    xy = rng.uniform(-r, r, size=(n, 2))
    return xy, xy + rng.uniform(-r, r, size=(n, 2)) * noise


def _make_plane(n_samples: int, noise: float, random_state: int) -> _Raw:
    xy, read = _regression_points(n_samples, noise, random_state)
    y = (read[:, 0] + read[:, 1]) / 10.0  # d3 linear scale [-10, 10] -> [-1, 1]
    return _Raw(xy, y, _xy_names(2), task="regression")


# centre x, centre y, sign: six bumps of alternating sign (TF Playground's)
_BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1], [-4, -2.5, -1], [0, -2.5, 1],
                   [4, -2.5, -1]])  # fmt: skip


def _make_multigauss(n_samples: int, noise: float, random_state: int) -> _Raw:
    xy, read = _regression_points(n_samples, noise, random_state)
    dist = np.hypot(read[:, None, 0] - _BUMPS[:, 0], read[:, None, 1] - _BUMPS[:, 1])
    height = _BUMPS[:, 2] * np.clip(1 - dist / 2, 0, 1)  # d3 scale [0, 2] -> [1, 0], clamped
    pick = np.argmax(np.abs(height), axis=1)  # the bump largest in absolute value
    y = height[np.arange(len(xy)), pick]
    return _Raw(xy, y, _xy_names(2), task="regression")


def _bundled(loader_name: str, named_classes: bool) -> Callable[..., _Raw]:
    def make(random_state: int) -> _Raw:
        import sklearn.datasets

        bunch = getattr(sklearn.datasets, loader_name)()
        classes = list(bunch.target_names) if named_classes else None
        return _Raw(bunch.data, bunch.target, list(bunch.feature_names), class_names=classes)

    return make


REGISTRY.register(
    "blog",
    _Source(_make_blog, {"labels": "4class"}, standardize=False, n_classes=lambda o: 4),
    description="The blog post's data: make_blobs(1000, centers=4, n_features=2, random_state=0),"
    " 750/250 stratified split; labels='4class' or 'mod2'",
)
REGISTRY.register(
    "blobs",
    _Source(
        _make_blobs,
        {"n_samples": 1000, "centers": 4, "n_features": 2, "cluster_std": 1.0},
        n_classes=lambda o: _n_centers(o["centers"]),
    ),
    description="Isotropic Gaussian blobs (sklearn make_blobs), one class per centre",
)
REGISTRY.register(
    "moons",
    _Source(_make_moons, {"n_samples": 1000, "noise": 0.2}, n_classes=lambda o: 2),
    description="Two interleaving half circles (sklearn make_moons)",
)
REGISTRY.register(
    "circles",
    _Source(_make_circles, {"n_samples": 1000, "noise": 0.1, "factor": 0.5}, n_classes=lambda o: 2),
    description="A small circle inside a large one (sklearn make_circles, factor 0.5)",
)
_PLAYGROUND = {"n_samples": 500, "noise": 0.0}
REGISTRY.register(
    "xor",
    _Source(_make_xor, _PLAYGROUND, n_classes=lambda o: 2),
    description="TF Playground XOR: uniform points in [-5, 5]^2, label sign(x*y)",
)
REGISTRY.register(
    "spiral",
    _Source(_make_spiral, _PLAYGROUND, n_classes=lambda o: 2),
    description="TF Playground spiral: two interleaved spirals of 1.75 turns",
    aliases=("spirals",),
)
REGISTRY.register(
    "gauss",
    _Source(_make_gauss, _PLAYGROUND, n_classes=lambda o: 2),
    description="TF Playground Gaussians at (2, 2) and (-2, -2); variance grows with noise",
    aliases=("gaussian",),
)
REGISTRY.register(
    "plane",
    _Source(_make_plane, _PLAYGROUND, task="regression"),
    description="TF Playground regression plane: y = (x1 + x2) / 10 on [-6, 6]^2",
    aliases=("reg_plane",),
)
REGISTRY.register(
    "multigauss",
    _Source(_make_multigauss, _PLAYGROUND, task="regression"),
    description="TF Playground regression: six Gaussian bumps of alternating sign",
    aliases=("reg_gauss", "multi_gaussian"),
)
REGISTRY.register(
    "iris",
    _Source(_bundled("load_iris", True), {}),
    description="Fisher's iris: 150 flowers, 4 measurements, 3 species (bundled with sklearn)",
)
REGISTRY.register(
    "wine",
    _Source(_bundled("load_wine", True), {}),
    description="Wine recognition: 178 wines, 13 chemical features, 3 cultivars",
)
REGISTRY.register(
    "breast_cancer",
    _Source(_bundled("load_breast_cancer", True), {}),
    description="Wisconsin breast cancer: 569 tumours, 30 features, malignant/benign",
    aliases=("cancer",),
)
REGISTRY.register(
    "digits",
    _Source(_bundled("load_digits", False), {}),
    description="Handwritten digits: 1797 8x8 images (64 pixel features), 10 classes",
)


# --------------------------------------------------------------------------- files


def _check_path(path: Any, suffix: str) -> Path:
    if path is None:
        raise ConfigError(f"the {suffix.strip('.')} data set needs path=... (a {suffix} file)")
    p = Path(os.fspath(path)).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"data file not found: {str(p)!r} (resolved: {p.resolve()})")
    if p.is_dir():
        raise ConfigError(f"{str(p)!r} is a directory, not a {suffix} file")
    return p


def _parse_label(values: list[str]) -> np.ndarray:
    """Numeric labels when every value is a number (ints when integral), else strings."""
    try:
        numbers = np.array([float(v) for v in values])
    except ValueError:
        return np.array(values, dtype=str)
    if np.all(np.isfinite(numbers)) and np.all(np.mod(numbers, 1) == 0):
        return numbers.astype(np.int64)
    return numbers


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv_rows(p: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a CSV file with their line numbers; read errors named."""
    try:
        with open(p, newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read {str(p)!r} as UTF-8 text: {exc.reason}") from None
    except csv.Error as exc:
        raise ConfigError(f"malformed CSV file {str(p)!r}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read CSV file {str(p)!r}: {exc.strerror}") from None


def _csv_header(p: Path, rows: list[tuple[int, list[str]]], delimiter: str) -> list[str]:
    """The column names of the first row, checked: two or more, not numbers, distinct."""
    if not rows:
        raise ConfigError(f"CSV file {str(p)!r} is empty; it needs a header row and data rows")
    header_line, header = rows[0]
    header = [h.strip() for h in header]
    if len(header) < 2:
        raise ConfigError(
            f"CSV file {str(p)!r} has {len(header)} column(s) {header}; need at least one "
            f"feature and the target (is the delimiter {delimiter!r} right?)"
        )
    if all(_looks_numeric(h) for h in header):
        raise ConfigError(
            f"the first row of {str(p)!r} (line {header_line}) is all numbers: {header[:_SHOW]}; "
            "a header row naming the columns is required"
        )
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ConfigError(f"CSV file {str(p)!r} repeats column name(s) {duplicates}")
    if len(rows) < 2:
        raise ConfigError(f"CSV file {str(p)!r} has a header but no data rows")
    return header


def _target_column(p: Path, header: list[str], target: Any) -> int:
    """The index of the target column: the last by default, else by index or by name."""
    if target is None:
        return len(header) - 1
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not -len(header) <= target < len(header):
            raise ConfigError(
                f"target column index {target} out of range for {len(header)} columns: {header}"
            )
        return int(target) % len(header)
    if isinstance(target, str) and target.strip() in header:
        return header.index(target.strip())
    close = difflib.get_close_matches(str(target), header, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ConfigError(
        f"target column {target!r} not found in {str(p)!r}{hint} Columns are: {', '.join(header)}"
    )


def _make_csv(path: Any, target: Any, delimiter: str, random_state: int) -> _Raw:
    p = _check_path(path, ".csv")
    rows = _read_csv_rows(p, delimiter)
    header = _csv_header(p, rows, delimiter)
    data = rows[1:]
    t = _target_column(p, header, target)
    feature_cols = [j for j in range(len(header)) if j != t]

    X = np.empty((len(data), len(feature_cols)))
    labels: list[str] = []
    lines: list[int] = []
    for i, (line, row) in enumerate(data):
        if len(row) != len(header):
            raise ConfigError(
                f"line {line} of {str(p)!r} has {len(row)} field(s) but the header has "
                f"{len(header)}"
            )
        for k, j in enumerate(feature_cols):
            cell = row[j].strip()
            try:
                X[i, k] = float(cell)
            except ValueError:
                raise ConfigError(
                    f"non-numeric value {cell!r} on line {line}, column {header[j]!r} "
                    f"(column {j + 1}) of {str(p)!r}; feature columns must be numbers"
                ) from None
        label = row[t].strip()
        if not label:
            raise ConfigError(f"missing target value on line {line} of {str(p)!r}")
        labels.append(label)
        lines.append(line)
    names = [header[j] for j in feature_cols]
    error = _nonfinite_error(X, f"CSV file {str(p)!r}", rows=lines, columns=names)
    if error is not None:
        raise error
    return _Raw(
        X,
        _parse_label(labels),
        names,
        description=f"CSV file {p.name}: {len(X)} rows, target column {header[t]!r}",
        rows=lines,
    )


def _make_npz(path: Any, random_state: int) -> _Raw:
    p = _check_path(path, ".npz")
    try:
        with np.load(p, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read {str(p)!r} as a .npz archive: {exc}") from None
    missing = [key for key in ("X", "y") if key not in arrays]
    if missing:
        raise ConfigError(
            f"{str(p)!r} lacks array(s) {missing}; it must hold 'X' (n, d) and 'y' (n,); "
            f"found: {sorted(arrays) or 'none'}"
        )
    X = np.asarray(arrays["X"])
    names = (
        [str(n) for n in arrays["feature_names"]]
        if "feature_names" in arrays
        else _xy_names(X.shape[1] if X.ndim == 2 else 0)
    )
    return _Raw(X, arrays["y"], names, description=f"NPZ file {p.name}: {len(X)} rows")


REGISTRY.register(
    "csv",
    _Source(_make_csv, {"path": None, "target": None, "delimiter": ","}),
    description="Your CSV file: header row, numeric features; target= column (default: last)",
)
REGISTRY.register(
    "npz",
    _Source(_make_npz, {"path": None}),
    description="Your .npz file with arrays 'X' (n, d) and 'y' (n,)",
)

_FILE_KINDS = {".csv": "csv", ".npz": "npz"}


# --------------------------------------------------------------------------- split & scale


def _split(
    X: np.ndarray,
    y_int: np.ndarray,
    stratify: np.ndarray,
    val_size: float,
    seed: int,
    what: str,
    classes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    strata, counts = np.unique(stratify, return_counts=True)
    minimum = _min_split_size(len(strata), val_size)
    if len(X) < minimum:
        raise ConfigError(
            f"{what} has {len(X)} samples, too few for a stratified split of {len(strata)} "
            f"classes with val_size={val_size}: need at least {minimum}"
        )
    if counts.min() < 2:
        rare = strata[counts < 2]
        shown = classes[rare] if stratify is y_int else rare
        raise ConfigError(
            f"{what}: class(es) {list(shown.tolist())[:_SHOW]} have a single sample; a "
            "stratified split needs at least 2 per class"
        )
    index = np.arange(len(X))
    train, val = train_test_split(index, test_size=val_size, stratify=stratify, random_state=seed)
    return train, val


def _standardize(
    X_train: np.ndarray, X_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, list[float]]]:
    mean = X_train.mean(axis=0)
    std = X_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant columns (digits' blank pixels) stay put
    scaler = {"mean": mean.tolist(), "std": std.tolist()}
    return (X_train - mean) / std, (X_val - mean) / std, scaler


def _jsonable(value: Any) -> Any:
    """NumPy scalars and arrays as plain Python, so ``Dataset.options`` is JSON-serializable."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def _check_val_size(val_size: Any) -> float:
    if isinstance(val_size, bool) or not isinstance(val_size, (int, float, np.number)):
        raise ConfigError(f"val_size must be a fraction in (0, 1), got {val_size!r}")
    if not 0 < float(val_size) < 1:
        raise ConfigError(f"val_size must be a fraction in (0, 1), got {val_size}")
    return float(val_size)


def _check_flag(key: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{key} must be True or False, got {value!r}")
    return bool(value)


# --------------------------------------------------------------------------- public API


def names() -> list[str]:
    """Canonical names of all registered data sets."""
    return REGISTRY.names()


def describe(name: str) -> str:
    """The one-line description of data set ``name``."""
    return REGISTRY.describe(name)


def task(name: str) -> str:
    """``"classification"`` or ``"regression"``: what data set ``name`` asks of a network."""
    return REGISTRY.get(name).task


def defaults(name: str) -> dict[str, Any]:
    """Every option data set ``name`` accepts, with its default value."""
    source = REGISTRY.get(name)
    return {**source.defaults, **_COMMON, "standardize": source.standardize}


def load(name: str | os.PathLike | Dataset, **options: Any) -> Dataset:
    """Load a data set by name (or from a file) as a seeded, stratified train/val split.

    Parameters
    ----------
    name : str, path or Dataset
        A registered name (see :func:`names`), a path to a ``.csv``/``.npz``
        file, or a :class:`Dataset`, which is returned unchanged.
    **options
        The set's own options (see :func:`defaults`: ``n_samples``,
        ``noise``, ``labels`` for ``"blog"``, ``path``/``target`` for files)
        and the common ones:

        val_size : float in (0, 1), default 0.25
            Fraction held out for validation (``train_test_split``'s ``test_size``).
        random_state : int, default 0
            Seeds the generator of synthetic sets and, by default, the split.
        split_seed : int, optional
            Seeds the split separately (default: ``random_state``).
        standardize : bool
            Scale features to zero mean, unit std using training statistics
            only. Default True, except False for ``"blog"``.
        features : list of str, optional
            Engineered inputs computed from the (standardized) raw inputs,
            e.g. ``["x1", "x2", "x1^2", "x1*x2", "sin(x1)"]``
            (:func:`expand_features`); default: the raw inputs.

    Returns
    -------
    Dataset
        ``load(ds.name, **ds.options)`` re-creates it exactly.

    Raises
    ------
    ValueError
        Unknown name or option (the closest valid one is suggested), bad
        option values, NaN/inf in the data, malformed files, too few samples
        for a stratified split (the minimum is given).
    FileNotFoundError
        If a data file does not exist.

    Examples
    --------
    >>> ds = load("blog")
    >>> ds.X_train.shape, ds.n_classes
    ((750, 2), 4)
    >>> load("blog", labels="mod2").classes
    array([0, 1])
    """
    if isinstance(name, Dataset):
        if options:
            raise ConfigError(
                f"options {sorted(options)} cannot be applied to an already loaded Dataset "
                f"{name.name!r}; call load({name.name!r}, ...) instead"
            )
        return name
    if isinstance(name, os.PathLike) or (
        isinstance(name, str)
        and name not in REGISTRY
        and (Path(name).suffix != "" or "/" in name or os.sep in name)
    ):
        suffix = Path(os.fspath(name)).suffix.lower()
        if suffix not in _FILE_KINDS:
            raise ConfigError(
                f"unsupported data file type {suffix or '(none)'!r} for {os.fspath(name)!r}; "
                f"use one of: {', '.join(_FILE_KINDS)}"
            )
        if "path" in options:
            raise ConfigError("give the file either as the first argument or as path=, not both")
        options = {**options, "path": os.fspath(name)}
        name = _FILE_KINDS[suffix]

    key = REGISTRY.canonical(name)
    source = REGISTRY.get(key)
    allowed = defaults(key)
    unknown = [k for k in options if k not in allowed]
    if unknown:
        close = difflib.get_close_matches(unknown[0], list(allowed), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"data set {key!r} has no option {unknown[0]!r}{hint} "
            f"Its options are: {', '.join(allowed)}"
        )
    opts = {k: _jsonable(v) for k, v in {**allowed, **options}.items()}
    opts["val_size"] = _check_val_size(opts["val_size"])
    opts["random_state"] = _int_option("random_state", opts["random_state"], 0)
    if opts["split_seed"] is None:
        opts["split_seed"] = opts["random_state"]
    opts["split_seed"] = _int_option("split_seed", opts["split_seed"], 0)
    opts["standardize"] = _check_flag("standardize", opts["standardize"])
    if opts["features"] is None:
        del opts["features"]  # the raw inputs: the data set's identity as before features

    if source.n_classes is not None and "n_samples" in opts:
        n = _int_option("n_samples", opts["n_samples"], 1)
        n_classes = source.n_classes(opts)
        minimum = _min_split_size(n_classes, opts["val_size"])
        if n < minimum:
            raise ConfigError(
                f"n_samples={n} is too small for a stratified split of {key!r} "
                f"({n_classes} classes, val_size={opts['val_size']}): need n_samples >= {minimum}"
            )

    raw = source.make(**{k: opts[k] for k in source.defaults}, random_state=opts["random_state"])
    if raw.task == "regression":
        return _regression_set(raw, key, opts)
    X, y = validate_xy(raw.X, raw.y, x_name=f"{key} X", y_name=f"{key} labels")
    codes, y_int = np.unique(y, return_inverse=True)
    y_int = y_int.reshape(-1).astype(np.int64)
    classes = np.asarray(raw.class_names)[codes] if raw.class_names is not None else codes
    stratify = y_int if raw.stratify is None else np.asarray(raw.stratify)
    train, val = _split(
        X, y_int, stratify, opts["val_size"], opts["split_seed"], f"data set {key!r}", classes
    )
    return _assemble(
        X,
        y_int,
        train,
        val,
        opts,
        name=key,
        classes=classes,
        feature_names=tuple(str(f) for f in raw.feature_names),
        description=raw.description or REGISTRY.describe(key),
        source="file" if key in _FILE_KINDS.values() else "registry",
    )


def _assemble(X, y, train, val, opts: dict[str, Any], **fields) -> Dataset:
    """The Dataset of a split: its parts, standardized with training statistics when
    ``opts["standardize"]``; ``fields`` are the rest of the Dataset's attributes."""
    X_train, X_val = X[train], X[val]
    scaler = None
    if opts["standardize"]:
        X_train, X_val, scaler = _standardize(X_train, X_val)
    if opts.get("features") is not None:  # engineered from the standardized inputs
        features = check_features(opts["features"], X.shape[1])
        opts["features"] = list(features)
        fields["input_names"] = tuple(fields["feature_names"])
        fields["feature_names"] = features
        X_train, X_val = expand_features(X_train, features), expand_features(X_val, features)
    return Dataset(
        X_train=X_train,
        X_val=X_val,
        y_train=y[train],
        y_val=y[val],
        options=opts,
        scaler=scaler,
        **fields,
    )


def _regression_set(
    raw: _Raw, key: str, opts: dict[str, Any], n_val: int | None = None, **extra
) -> Dataset:
    """A regression set: real targets, a plain seeded split (nothing to stratify); with
    ``n_val``, the last ``n_val`` rows are the validation part as given."""
    from sklearn.model_selection import train_test_split

    X = validate_x(raw.X, f"{key} X")
    y = np.asarray(raw.y, dtype=np.float64)
    if y.shape != (len(X),):
        raise ConfigError(f"{key} targets must be 1-D with one per sample, got shape {y.shape}")
    error = _nonfinite_error(y, f"{key} targets")
    if error is not None:
        raise error
    index = np.arange(len(X))
    if n_val is None:
        train, val = train_test_split(
            index, test_size=opts["val_size"], random_state=opts["split_seed"]
        )
    else:
        train, val = index[: len(X) - n_val], index[len(X) - n_val :]
    return _assemble(
        X,
        y,
        train,
        val,
        opts,
        name=key,
        classes=np.array([]),
        feature_names=tuple(str(f) for f in raw.feature_names),
        description=raw.description if raw.description is not None else REGISTRY.describe(key),
        task="regression",
        **extra,
    )


def from_arrays(
    X: Any,
    y: Any,
    X_val: Any = None,
    y_val: Any = None,
    name: str = "arrays",
    *,
    val_size: float = 0.25,
    split_seed: int = 0,
    standardize: bool = False,
    feature_names: Sequence[str] | None = None,
    description: str = "",
    task: str = "classification",
) -> Dataset:
    """Build a :class:`Dataset` from your own arrays.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Numeric, finite features.
    y : array_like, shape (n,)
        Labels of any sortable type; coded ``0..K-1`` in sorted order.
    X_val, y_val : array_like, optional
        A validation part. Give both or neither; when neither, ``X, y`` are
        split with a seeded, stratified ``train_test_split``.
    name : str, default "arrays"
        Name recorded on the result.
    val_size : float in (0, 1), default 0.25
        Fraction held out when splitting.
    split_seed : int, default 0
        Seed of the split.
    standardize : bool, default False
        Scale with training statistics. Off by default: arrays handed over
        by a caller (the estimator) are used as given; apply the same
        scaling to new data with :meth:`Dataset.transform`.
    feature_names : sequence of str, optional
        Default ``x1, x2, ...``.
    description : str, optional
        One line saying what the data is.

    Returns
    -------
    Dataset
        ``options`` records ``val_size``, ``split_seed`` and ``standardize``.
    """
    if (X_val is None) != (y_val is None):
        raise ConfigError("give both X_val and y_val, or neither (to split X, y)")
    if task not in ("classification", "regression"):
        raise ConfigError(f"task must be 'classification' or 'regression', got {task!r}")
    if task == "regression":
        n_val = None
        opts: dict[str, Any] = {"val_size": None, "split_seed": None}
        if X_val is not None:
            n_val = len(validate_x(X_val, "X_val"))
            X = np.concatenate([validate_x(X), validate_x(X_val, "X_val")])
            y = np.concatenate([np.asarray(y, float).ravel(), np.asarray(y_val, float).ravel()])
        else:
            opts = {"val_size": _check_val_size(val_size), "split_seed": split_seed}
        opts["standardize"] = _check_flag("standardize", standardize)
        names_ = feature_names or _xy_names(np.asarray(X).shape[1])
        raw = _Raw(X, y, names_, description=description, task="regression")
        return _regression_set(raw, name, opts, n_val, source="arrays")
    standardize = _check_flag("standardize", standardize)
    split_seed = _int_option("split_seed", split_seed, 0)
    X, y = validate_xy(X, y)
    if X_val is not None:
        X_val, y_val = validate_xy(X_val, y_val, x_name="X_val", y_name="y_val", min_classes=1)
        if X_val.shape[1] != X.shape[1]:
            raise ConfigError(
                f"X has {X.shape[1]} features but X_val has {X_val.shape[1]}; they must match"
            )
        try:
            classes, codes = np.unique(np.concatenate([y, y_val]), return_inverse=True)
        except TypeError:
            raise ConfigError("y and y_val hold labels of different types") from None
        codes = codes.reshape(-1).astype(np.int64)
        X_train, y_train, y_val_int = X, codes[: len(y)], codes[len(y) :]
        options: dict[str, Any] = {"val_size": None, "split_seed": None}
    else:
        val_size = _check_val_size(val_size)
        classes, codes = np.unique(y, return_inverse=True)
        codes = codes.reshape(-1).astype(np.int64)
        train, val = _split(X, codes, codes, val_size, split_seed, name, classes)
        X_train, X_val, y_train, y_val_int = X[train], X[val], codes[train], codes[val]
        options = {"val_size": val_size, "split_seed": split_seed}
    options["standardize"] = standardize
    names_ = tuple(feature_names) if feature_names is not None else _xy_names(X.shape[1])
    if len(names_) != X.shape[1]:
        raise ConfigError(f"{len(names_)} feature_names given for {X.shape[1]} features")
    scaler = None
    if standardize:
        X_train, X_val, scaler = _standardize(X_train, X_val)
    return Dataset(
        X_train=np.array(X_train, dtype=np.float64),
        X_val=np.array(X_val, dtype=np.float64),
        y_train=y_train,
        y_val=y_val_int,
        name=name,
        classes=classes,
        feature_names=tuple(str(f) for f in names_),
        description=description,
        options=options,
        scaler=scaler,
        source="arrays",
    )
