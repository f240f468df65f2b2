"""Losses on the network's output layer, each with its gradient, computed stably.

A loss owns the output nonlinearity that goes with it, because the pair has a
simple, stable gradient with respect to the output pre-activation ``z``:

==========================  ==============  ===============================
name                        output          d(loss)/dz per sample
==========================  ==============  ===============================
``cross_entropy``           softmax         ``p - y``
``binary_cross_entropy``    sigmoid (1 unit) ``p - y``
``mse``                     softmax         ``p * (v - sum(p * v))``, ``v = 2 (p - y) / K``
``squared_error``           identity        ``2 (z - y) / K``  (regression)
==========================  ==============  ===============================

Cross-entropy is evaluated as ``logsumexp(z) - sum(y * z)`` (shifted by
``max(z)``), never as ``log(softmax)``, so it is finite for any finite ``z``.
``mse`` is the mean squared error between the softmax probabilities and the
one-hot targets (the Brier score, as ``torch.nn.MSELoss`` on probabilities).
``squared_error`` is regression: real targets, an identity output, the mean
squared error over the output units (``torch.nn.MSELoss``).

Arrays may have any leading shape; ``axis`` names the class axis (``-1`` by
default; the engine keeps classes on axis 0).  Per-sample values are
returned; the engine averages them over the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special

from ._registry import Registry
from .errors import ConfigError

__all__ = ["Loss", "get", "names", "register", "REGISTRY"]


def _softmax_parts(z: np.ndarray, axis: int):
    shifted = z - z.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    s = e.sum(axis=axis, keepdims=True)
    return shifted, e, s


def _target_dot(y: np.ndarray, v: np.ndarray, axis: int) -> np.ndarray:
    """``sum(y * v, axis)`` without a temporary the size of ``v`` when ``axis == 0``.

    Class planes are accumulated in order, so the result is bitwise that of the
    plain expression (NumPy reduces a leading axis plane by plane, in order).
    """
    if axis != 0 or v.ndim < 2:
        return (y * v).sum(axis=axis)
    acc = np.multiply(y[0], v[0])
    tmp = np.empty_like(acc)
    for k in range(1, v.shape[0]):
        acc += np.multiply(y[k], v[k], out=tmp)
    return acc


def _ce_forward(z, y, axis, out=None):
    # softmax by log-sum-exp, with one buffer (``out``) for shifted -> exp -> p
    shifted = np.subtract(z, z.max(axis=axis, keepdims=True), out=out)
    loss = _target_dot(y, shifted, axis)  # the target's shifted logit
    e = np.exp(shifted, out=shifted)
    s = e.sum(axis=axis, keepdims=True)
    p = np.divide(e, s, out=e)
    np.subtract(np.log(s).squeeze(axis), loss, out=loss)
    return p, loss


def _ce_delta(z, p, y, axis, out=None):
    return np.subtract(p, y, out=out)


def _bce_forward(z, y, axis, out=None):
    p = special.expit(z, out=out)
    loss = (np.logaddexp(z.dtype.type(0), z) - y * z).squeeze(axis)
    return p, loss


def _bce_delta(z, p, y, axis, out=None):
    return np.subtract(p, y, out=out)


def _mse_forward(z, y, axis, out=None):
    _, e, s = _softmax_parts(z, axis)
    p = np.divide(e, s, out=out)
    k = z.shape[axis]
    loss = ((p - y) ** 2).sum(axis=axis) / z.dtype.type(k)
    return p, loss


def _mse_delta(z, p, y, axis, out=None):
    k = z.shape[axis]
    v = (p - y) * z.dtype.type(2.0 / k)
    # softmax Jacobian-vector product
    return np.multiply(p, v - (p * v).sum(axis=axis, keepdims=True), out=out)


def _se_forward(z, y, axis, out=None):
    if out is None:
        p = z.copy()
    else:
        np.copyto(out, z)
        p = out
    k = z.shape[axis]
    loss = ((p - y) ** 2).sum(axis=axis) / z.dtype.type(k)
    return p, loss


def _se_delta(z, p, y, axis, out=None):
    k = z.shape[axis]
    d = np.subtract(p, y, out=out)
    d *= z.dtype.type(2.0 / k)
    return d


def _identity_output(z, axis):
    return z


def _softmax_output(z, axis):
    _, e, s = _softmax_parts(z, axis)
    return e / s


@dataclass(frozen=True)
class Loss:
    """A loss with its output nonlinearity.

    Attributes
    ----------
    forward : callable
        ``forward(z, y, axis, out=None) -> (p, per_sample_loss)``: output
        probabilities and the loss of each sample (class axis reduced).  ``out``
        (shaped like ``z``) receives ``p`` when given, so a training loop can
        reuse one buffer.
    delta : callable
        ``delta(z, p, y, axis, out=None) -> dL/dz`` per sample (not yet divided
        by the batch size), into ``out`` when given.
    output : callable
        ``output(z, axis) -> p`` alone, for prediction.
    binary : bool
        True when the network has a single sigmoid output unit (two classes).
    regression : bool
        True when targets are real numbers and the output is the identity
        (``output`` returns the prediction itself, not probabilities).
    """

    name: str
    forward: Callable
    delta: Callable
    output: Callable
    description: str
    binary: bool = False
    regression: bool = False

    def __reduce__(self):
        return (get, (self.name,))  # pickled by name

    def n_outputs(self, n_classes: int) -> int:
        """Output units for ``n_classes`` classes (one per target for regression)."""
        if self.regression:
            return 1
        if self.binary and n_classes != 2:
            raise ConfigError(
                f"loss {self.name!r} needs exactly 2 classes, got {n_classes}; "
                "use 'cross_entropy' for more"
            )
        return 1 if self.binary else n_classes

    def targets(self, y: np.ndarray, n_classes: int, dtype=np.float64, axis: int = -1):
        """Encode integer labels ``0..K-1`` as the targets this loss compares with."""
        y = np.asarray(y)
        if self.binary or self.regression:
            t = y.astype(dtype)[..., None]
        else:
            t = (y[..., None] == np.arange(n_classes)).astype(dtype)
        return np.moveaxis(t, -1, axis)

    def value(self, z, y, axis: int = -1) -> np.ndarray:
        """Mean loss over the sample axis (the one before the class axis)."""
        _, per_sample = self.forward(z, y, axis)
        return per_sample.mean(axis=-1)

    def grad(self, z, y, axis: int = -1) -> np.ndarray:
        """Gradient of :meth:`value` with respect to ``z`` (samples on the last non-class axis)."""
        p, _ = self.forward(z, y, axis)
        n = per_sample_count(z, axis)
        return self.delta(z, p, y, axis) / z.dtype.type(n)

    def predict_proba(self, z, axis: int = -1) -> np.ndarray:
        """Class probabilities; for the binary loss, ``[1 - p, p]`` on the class axis."""
        p = self.output(z, axis)
        if self.binary:
            p = np.concatenate([1 - p, p], axis=axis)
        return p


def per_sample_count(z: np.ndarray, axis: int) -> int:
    shape = list(z.shape)
    del shape[axis]
    return shape[-1]


REGISTRY: Registry[Loss] = Registry("loss", "initlab.losses")


def register(loss: Loss, aliases: tuple[str, ...] = ()) -> Loss:
    """Make ``loss`` known by its name (and ``aliases``) everywhere; it is then gradient-checked."""
    REGISTRY.register(loss.name, loss, aliases=aliases, description=loss.description)
    return loss


REGISTRY.register(
    "cross_entropy",
    Loss(
        "cross_entropy",
        _ce_forward,
        _ce_delta,
        _softmax_output,
        "softmax output, multi-class cross-entropy (log-sum-exp)",
    ),
    aliases=("ce", "log_loss", "softmax_cross_entropy", "categorical_cross_entropy"),
    description="softmax output, multi-class cross-entropy (log-sum-exp)",
)
REGISTRY.register(
    "binary_cross_entropy",
    Loss(
        "binary_cross_entropy",
        _bce_forward,
        _bce_delta,
        lambda z, axis: special.expit(z),
        "one sigmoid output unit, binary cross-entropy (2 classes)",
        binary=True,
    ),
    aliases=("bce", "logistic"),
    description="one sigmoid output unit, binary cross-entropy (2 classes)",
)
REGISTRY.register(
    "squared_error",
    Loss(
        "squared_error",
        _se_forward,
        _se_delta,
        _identity_output,
        "regression: identity output, mean squared error to real targets",
        regression=True,
    ),
    aliases=("regression", "l2_loss", "mean_squared_error_regression"),
    description="regression: identity output, mean squared error to real targets",
)
REGISTRY.register(
    "mse",
    Loss(
        "mse",
        _mse_forward,
        _mse_delta,
        _softmax_output,
        "softmax output, mean squared error to one-hot targets (Brier)",
    ),
    aliases=("mean_squared_error", "squared_error", "brier"),
    description="softmax output, mean squared error to one-hot targets (Brier)",
)


def get(name: str | Loss) -> Loss:
    """The loss called ``name``: cross_entropy, binary_cross_entropy or mse."""
    return name if isinstance(name, Loss) else REGISTRY.get(name)


def names() -> list[str]:
    return REGISTRY.names()
