"""What the playground's network view and statistics charts draw, computed from the engine.

Two pieces, all plain NumPy on one network (model 0 of a population):

* :func:`layer_quantiles` -- per layer, the 5/25/50/75/95 % quantiles and the RMS
  of the weights, the pre-activations, the activations and the weight gradients:
  the figure every initialization lecture draws, recorded after every epoch.
* :func:`diagram` -- TensorFlow Playground's network diagram: each unit's output
  on a coarse grid over the input plane (``uint8``, base64), the links' weights and
  gradients, and per unit whether it is non-finite; at most ``max_units`` units per
  layer, so big networks stay bounded.

Nothing here imports Starlette.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["KINDS", "QUANTILES", "diagram", "layer_quantiles"]

#: The quantiles (percent) of each layer's distributions.
QUANTILES = (5, 25, 50, 75, 95)
#: The distributions summarised per layer, in the order of :func:`layer_quantiles`'s axis 1.
KINDS = ("weights", "preactivations", "activations", "gradients")


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


_Q = np.asarray(QUANTILES, dtype=np.float64) / 100


def _summary(values: np.ndarray) -> np.ndarray:
    """The quantiles and the RMS of ``values`` (NaN everywhere if any value is not finite).

    The quantiles are ``np.percentile``'s default (linear interpolation between the
    sorted values), from one sort: a fifth of ``np.percentile``'s time on these
    small arrays, which matters as it runs every epoch."""
    v = np.sort(np.asarray(values, dtype=np.float64).ravel())
    out = np.full(len(QUANTILES) + 1, np.nan)
    if v.size and np.isfinite(v[0]) and np.isfinite(v[-1]):  # sorted: NaN last
        pos = _Q * (v.size - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, v.size - 1)
        out[:-1] = v[lo] + (pos - lo) * (v[hi] - v[lo])
        out[-1] = np.sqrt(np.mean(v * v))
    return out


def layer_quantiles(trace: dict[str, list[np.ndarray]], params: Sequence[np.ndarray]) -> np.ndarray:
    """Per layer and kind, the quantiles :data:`QUANTILES` and the RMS.

    Parameters
    ----------
    trace : dict
        :meth:`initlab.engine.Population.trace` with targets (``z``, ``a``, ``dW``).
    params : list of arrays
        The population's parameters ``[W1, b1, W2, ...]``; model 0 is summarised.

    Returns
    -------
    ndarray, shape (n_layers, 4, 6)
        Axis 1 is :data:`KINDS`; axis 2 the five quantiles then the RMS. The
        output layer's "activations" are its outputs (probabilities or values).
    """
    n_layers = len(params) // 2
    out = np.empty((n_layers, len(KINDS), len(QUANTILES) + 1))
    with np.errstate(all="ignore"):
        for layer in range(n_layers):
            out[layer, 0] = _summary(params[2 * layer][0])
            out[layer, 1] = _summary(trace["z"][layer][0])
            out[layer, 2] = _summary(trace["a"][layer][0])
            out[layer, 3] = _summary(trace["dW"][layer][0])
    return out


def _encode_units(a: np.ndarray) -> tuple[str, float]:
    """Unit outputs ``(N, F)`` as ``(F, N)`` uint8 around 128 (0 maps to 128) and the
    scale: ``byte = 128 + 127 * a / scale``; non-finite values become 0."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(a)
        scale = float(np.max(np.abs(a[finite]))) if finite.any() else 1.0
        scale = scale if scale > 0 else 1.0
        b = np.where(finite, np.rint(128 + 127 * np.clip(a / scale, -1, 1)), 0)
    return _b64(b.T.astype(np.uint8)), scale


def _rounded(a: np.ndarray, digits: int = 4) -> list:
    """A JSON-safe nested list: finite values rounded, NaN/inf as None."""
    a = np.asarray(a, dtype=np.float64)
    return [
        _rounded(row, digits)
        if a.ndim > 1
        else (round(float(row), digits) if np.isfinite(row) else None)
        for row in a
    ]


def diagram(
    population,
    params: Sequence[np.ndarray],
    inputs: np.ndarray,
    grads: Sequence[np.ndarray] | None,
    deltas: Sequence[np.ndarray] | None,
    max_units: int,
) -> dict[str, Any]:
    """The network diagram of model 0: unit pictures, links and gradients.

    Parameters
    ----------
    population : initlab.engine.Population
    params : list of arrays
    inputs : ndarray, shape (G, n_features)
        The network's inputs on a ``g x g`` grid over the input plane (``G = g**2``;
        with engineered features, the features of the grid points).
    grads, deltas : lists of arrays, optional
        Per layer ``dW`` ``(M, n_in, n_out)`` and ``delta`` ``(M, N, n_out)`` from a
        traced batch (gradient per link, and per unit its RMS over the batch).
    max_units : int
        Units drawn per layer (the first ones); the rest are counted, not drawn.

    Returns
    -------
    dict
        ``layers``: one entry per layer, inputs first, each ``{"units": n,
        "shown": k, "pictures": base64 uint8 (k, G), "scale": s, "nan": [bool]
        * k}`` plus, except for the inputs, ``"weights"`` ``(k_in, k)``,
        ``"bias"`` ``(k,)``, ``"grads"`` ``(k_in, k)`` and ``"unit_grad"``
        ``(k,)`` (None where not finite).
    """
    with np.errstate(all="ignore"):
        tr = population.trace(params, inputs)
    acts = [np.asarray(inputs, dtype=np.float64)] + [a[0] for a in tr["a"]]
    layers = []
    prev_shown = min(acts[0].shape[1], max_units)
    for index, a in enumerate(acts):
        shown = min(a.shape[1], max_units)
        pictures, scale = _encode_units(a[:, :shown])
        entry: dict[str, Any] = {
            "units": int(a.shape[1]),
            "shown": shown,
            "pictures": pictures,
            "scale": scale,
            "nan": [bool(not np.isfinite(a[:, u]).all()) for u in range(shown)],
        }
        if index > 0:
            layer = index - 1
            W, b = params[2 * layer][0], params[2 * layer + 1][0]
            entry["weights"] = _rounded(W[:prev_shown, :shown])
            entry["bias"] = _rounded(b[:shown])
            entry["nan"] = [
                n or not (np.isfinite(W[:, u]).all() and np.isfinite(b[u]))
                for u, n in enumerate(entry["nan"])
            ]
            if grads is not None and deltas is not None:
                entry["grads"] = _rounded(grads[layer][0][:prev_shown, :shown], 6)
                with np.errstate(all="ignore"):
                    unit = np.sqrt(np.mean(deltas[layer][0][:, :shown] ** 2, axis=0))
                entry["unit_grad"] = _rounded(unit, 8)
        layers.append(entry)
        prev_shown = shown
    return {"layers": layers}
