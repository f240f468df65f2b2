"""Argument checks shared by the figures, and the networks and data they draw."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..datasets import Dataset
from ..errors import ConfigError


def _choice(name: str, value: Any, allowed: Sequence[str]) -> str:
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value.lower()


def _check_columns(df: Any, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ConfigError(
            f"{what} lacks column(s) {missing}; it has: {', '.join(map(str, df.columns))}"
        )
    if df.empty:
        raise ConfigError(f"{what} is empty: nothing to plot")
    return df


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _order(values: pd.Series | Sequence, order: Sequence | None, what: str) -> list:
    """Distinct values in first-appearance order, or ``order`` checked against them."""
    seen = list(dict.fromkeys(values))
    if order is None:
        return seen
    unknown = [v for v in order if v not in seen]
    if unknown:
        raise ConfigError(
            f"{what} order names {unknown}, which the data lacks; "
            f"it has: {', '.join(map(str, seen))}"
        )
    return list(order)


def _is_fitted(net) -> bool:
    return hasattr(net, "coefs_")


def _check_net(net, what: str = "net"):
    from ..network import FFNetwork

    if not isinstance(net, FFNetwork):
        raise TypeError(f"{what} must be an initlab FFNetwork, got {type(net).__name__}")
    if not _is_fitted(net):
        raise ConfigError(f"{what} is not fitted yet; call {what}.fit(X, y) first")
    return net


def _net_title(net) -> str:
    return f"{net.activation} + {net.init}"


def _xy(data, X=None, y=None, split: str = "train"):
    """``(X, y)`` from a Dataset (by split) or from arrays."""
    if isinstance(data, Dataset):
        split = _choice("split", split, ("train", "val", "both"))
        if split == "train":
            return np.asarray(data.X_train), np.asarray(data.y_train)
        if split == "val":
            return np.asarray(data.X_val), np.asarray(data.y_val)
        return np.asarray(data.X), np.asarray(data.y)
    Xa = np.asarray(data if X is None else X)
    if Xa.ndim != 2:
        raise ConfigError(f"X must be 2-D (n_samples, n_features), got shape {Xa.shape}")
    ya = np.asarray(y)
    if ya.shape != (len(Xa),):
        raise ConfigError(f"y must have one label per row of X ({len(Xa)}), got shape {ya.shape}")
    return Xa, ya


def _check_2d(X: np.ndarray, what: str) -> None:
    if X.shape[1] != 2:
        raise ConfigError(
            f"{what} needs 2 input features to draw a plane, got {X.shape[1]}; "
            "use a 2-D data set (blog, blobs, moons, circles, xor, spiral, gauss)"
        )


def _unflatten(flat: np.ndarray, shapes: Sequence[tuple[int, ...]]) -> list[np.ndarray]:
    out, start = [], 0
    for s in shapes:
        size = int(np.prod(s))
        out.append(flat[start : start + size].reshape(s))
        start += size
    return out


def _with_history(net, X, y, X_val=None, y_val=None):
    """``net`` fitted with its parameter history (refitting a clone if needed, same seed)."""
    from sklearn.base import clone

    from ..network import FFNetwork

    if not isinstance(net, FFNetwork):
        raise TypeError(f"expected an initlab FFNetwork, got {type(net).__name__}")
    if _is_fitted(net) and getattr(net, "param_history_", None) is not None:
        return net
    seed = net.seed_ if _is_fitted(net) else net.random_state
    if seed is None:
        seed = 0
    if y is None:
        raise ConfigError("y is needed to train the network (it is not fitted with its history)")
    other = clone(net).set_params(record_params=True, random_state=seed)
    return other.fit(X, y, X_val, y_val)


def _params_at(net, epoch: int) -> list[np.ndarray]:
    """The network's parameters after ``epoch`` epochs, in the engine's ``(1, ...)`` layout."""
    pop = net.population_
    return _unflatten(np.asarray(net.param_history_[epoch]), pop.param_shapes())
