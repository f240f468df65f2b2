"""Gradient-descent variants as pure ``(init, update)`` pairs with explicit state.

In the style of optax: an optimizer is a :class:`GradientTransformation`;
``state = opt.init(params)`` and ``updates, state = opt.update(grads, state,
params)``, then ``params[i] += updates[i]``.  State is a NamedTuple of arrays;
nothing is hidden or mutated between calls.

Everything is population-shaped: each parameter array has a leading model
axis ``M``, and every hyperparameter (learning rate, momentum, betas, eps,
weight decay) may be a scalar or an array of shape ``(M,)`` that broadcasts
over that axis, so one call updates a whole grid of networks with their own
settings.

The formulations are the textbook ones, identical to ``torch.optim``
(``SGD``, ``SGD(momentum)``, ``SGD(nesterov=True)``, ``Adagrad``,
``RMSprop``, ``Adam``, ``AdamW``):

========== ==========================================================================
gd         ``p -= lr * g``
momentum   ``v = mu * v + g``;  ``p -= lr * v``
nag        ``v = mu * v + g``;  ``p -= lr * (g + mu * v)``  (Nesterov, Sutskever 2013)
adagrad    ``s += g**2``;  ``p -= lr * g / (sqrt(s) + eps)``
rmsprop    ``s = rho * s + (1 - rho) * g**2``;  ``p -= lr * g / (sqrt(s) + eps)``
adam       ``m, v`` EMAs of ``g, g**2``, bias-corrected by ``1 - beta**t``;
           ``p -= lr * m_hat / (sqrt(v_hat) + eps)``
adamw      adam plus decoupled weight decay ``p -= lr * weight_decay * p``
========== ==========================================================================

Differences from the blog's code (documented, not reproduced): its NAG
subtracts ``eta * v`` where ``v`` already contains ``eta`` (so the step is
scaled by ``eta**2``) and evaluates the gradient at a look-ahead point; its
Adam restarts the bias-correction count at every epoch (and counts layers
instead of steps); its RMSProp puts ``eps`` inside the square root.

The blog's names are accepted case-insensitively: ``GD``, ``MiniBatch`` (gd
with ``batch_size`` 100 unless given), ``Momentum``, ``NAG``, ``AdaGrad``,
``RMSProp``, ``Adam``.  Its hyperparameter names map to ours as
:data:`BLOG_HYPERPARAMETERS`: ``eta -> learning_rate``, ``gamma -> momentum``,
``beta -> rho``, ``beta1 -> beta1``, ``beta2 -> beta2``, ``eps -> eps``,
``mini_batch_size -> batch_size``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ._registry import Registry
from .errors import ConfigError

__all__ = [
    "GradientTransformation",
    "OptimizerSpec",
    "get",
    "names",
    "build",
    "apply_updates",
    "BLOG_HYPERPARAMETERS",
    "translate_blog_hyperparameters",
    "gd",
    "momentum",
    "nag",
    "adagrad",
    "rmsprop",
    "adam",
    "adamw",
]

Params = Sequence[np.ndarray]
Hyper = float | np.ndarray

BLOG_HYPERPARAMETERS = {
    "eta": "learning_rate",
    "gamma": "momentum",
    "beta": "rho",
    "beta1": "beta1",
    "beta2": "beta2",
    "eps": "eps",
    "mini_batch_size": "batch_size",
}


class GradientTransformation(NamedTuple):
    """A pure optimizer: ``init(params) -> state``, ``update(grads, state, params)``."""

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[list[np.ndarray], Any]]


def apply_updates(params: Params, updates: Params) -> list[np.ndarray]:
    """``params + updates``, elementwise, as new arrays."""
    return [p + u for p, u in zip(params, updates, strict=True)]


class _Broadcaster:
    """Reshape a scalar or per-model ``(M,)`` hyperparameter to broadcast over a parameter.

    Cached by (ndim, dtype) so a training loop pays for it once.
    """

    def __init__(self, value: Hyper):
        self.value = value
        self._cache: dict[tuple[int, np.dtype], np.ndarray] = {}

    def __call__(self, p: np.ndarray):
        key = (p.ndim, p.dtype)
        out = self._cache.get(key)
        if out is None:
            v = np.asarray(self.value, dtype=p.dtype)
            out = v if v.ndim == 0 else v.reshape((-1,) + (1,) * (p.ndim - 1))
            self._cache[key] = out
        return out


def _zeros_like(params: Params) -> list[np.ndarray]:
    return [np.zeros_like(p) for p in params]


class EmptyState(NamedTuple):
    pass


class TraceState(NamedTuple):
    velocity: list[np.ndarray]


class SumState(NamedTuple):
    sum_of_squares: list[np.ndarray]


class AdamState(NamedTuple):
    count: int
    mu: list[np.ndarray]
    nu: list[np.ndarray]


def gd(learning_rate: Hyper) -> GradientTransformation:
    """Plain gradient descent, ``p -= lr * g`` (``torch.optim.SGD``)."""
    lr = _Broadcaster(learning_rate)

    def init(params):
        return EmptyState()

    def update(grads, state, params=None):
        return [-lr(g) * g for g in grads], state

    return GradientTransformation(init, update)


def momentum(learning_rate: Hyper, momentum: Hyper = 0.9) -> GradientTransformation:
    """Heavy-ball momentum (Polyak 1964): ``v = mu v + g; p -= lr v``.

    As ``torch.optim.SGD(momentum=mu)``; the blog's ``v = gamma v + eta g;
    p -= v`` is the same trajectory for a constant learning rate.
    """
    lr, mu = _Broadcaster(learning_rate), _Broadcaster(momentum)

    def init(params):
        return TraceState(_zeros_like(params))

    def update(grads, state, params=None):
        vel = [mu(g) * v + g for g, v in zip(grads, state.velocity, strict=True)]
        return [-lr(v) * v for v in vel], TraceState(vel)

    return GradientTransformation(init, update)


def nag(learning_rate: Hyper, momentum: Hyper = 0.9) -> GradientTransformation:
    """Nesterov accelerated gradient (Nesterov 1983; Sutskever et al. 2013).

    ``v = mu v + g; p -= lr (g + mu v)``, the form of
    ``torch.optim.SGD(momentum=mu, nesterov=True)``: the look-ahead gradient
    rewritten so that it is taken at the current parameters.
    """
    lr, mu = _Broadcaster(learning_rate), _Broadcaster(momentum)

    def init(params):
        return TraceState(_zeros_like(params))

    def update(grads, state, params=None):
        vel = [mu(g) * v + g for g, v in zip(grads, state.velocity, strict=True)]
        ups = [-lr(g) * (g + mu(g) * v) for g, v in zip(grads, vel, strict=True)]
        return ups, TraceState(vel)

    return GradientTransformation(init, update)


def adagrad(learning_rate: Hyper, eps: Hyper = 1e-10) -> GradientTransformation:
    """AdaGrad (Duchi et al. 2011): ``s += g^2; p -= lr g / (sqrt(s) + eps)``."""
    lr, ep = _Broadcaster(learning_rate), _Broadcaster(eps)

    def init(params):
        return SumState(_zeros_like(params))

    def update(grads, state, params=None):
        acc = [s + g * g for g, s in zip(grads, state.sum_of_squares, strict=True)]
        ups = [-lr(g) * g / (np.sqrt(s) + ep(g)) for g, s in zip(grads, acc, strict=True)]
        return ups, SumState(acc)

    return GradientTransformation(init, update)


def rmsprop(learning_rate: Hyper, rho: Hyper = 0.9, eps: Hyper = 1e-8) -> GradientTransformation:
    """RMSProp (Hinton 2012): ``s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)``.

    ``rho`` is the blog's ``beta`` and torch's ``alpha`` (torch's default is
    0.99; ours is Hinton's and the blog's 0.9).
    """
    lr, r, ep = _Broadcaster(learning_rate), _Broadcaster(rho), _Broadcaster(eps)

    def init(params):
        return SumState(_zeros_like(params))

    def update(grads, state, params=None):
        acc = [
            r(g) * s + (1 - r(g)) * (g * g)
            for g, s in zip(grads, state.sum_of_squares, strict=True)
        ]
        ups = [-lr(g) * g / (np.sqrt(s) + ep(g)) for g, s in zip(grads, acc, strict=True)]
        return ups, SumState(acc)

    return GradientTransformation(init, update)


def _adam(learning_rate, beta1, beta2, eps, weight_decay):
    lr, b1, b2 = _Broadcaster(learning_rate), _Broadcaster(beta1), _Broadcaster(beta2)
    ep, wd = _Broadcaster(eps), _Broadcaster(weight_decay)
    decoupled = np.any(np.asarray(weight_decay) != 0)

    def init(params):
        return AdamState(0, _zeros_like(params), _zeros_like(params))

    def update(grads, state, params=None):
        t = state.count + 1
        mu = [b1(g) * m + (1 - b1(g)) * g for g, m in zip(grads, state.mu, strict=True)]
        nu = [b2(g) * v + (1 - b2(g)) * (g * g) for g, v in zip(grads, state.nu, strict=True)]
        ups = []
        for g, m, v, p in zip(grads, mu, nu, params, strict=True):
            m_hat = m / (1 - b1(g) ** t)
            v_hat = v / (1 - b2(g) ** t)
            u = -lr(g) * (m_hat / (np.sqrt(v_hat) + ep(g)))
            if decoupled:
                u = u - lr(g) * wd(g) * p
            ups.append(u)
        return ups, AdamState(t, mu, nu)

    return GradientTransformation(init, update)


def adam(
    learning_rate: Hyper, beta1: Hyper = 0.9, beta2: Hyper = 0.999, eps: Hyper = 1e-8
) -> GradientTransformation:
    """Adam (Kingma & Ba 2015), bias-corrected, as ``torch.optim.Adam``."""
    return _adam(learning_rate, beta1, beta2, eps, 0.0)


def adamw(
    learning_rate: Hyper,
    beta1: Hyper = 0.9,
    beta2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    weight_decay: Hyper = 0.01,
) -> GradientTransformation:
    """AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    The decay applies to every parameter given (biases too), as torch does
    when all parameters are in one group.
    """
    return _adam(learning_rate, beta1, beta2, eps, weight_decay)


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: its factory and hyperparameters with defaults."""

    name: str
    factory: Callable[..., GradientTransformation]
    defaults: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    default_batch_size: int | None = None
    #: hyperparameter -> (low, high, low_open[, high_open]): the allowed range
    bounds: Mapping[str, tuple] = field(default_factory=dict)

    def build(self, learning_rate: Hyper, **hyper: Hyper) -> GradientTransformation:
        return self.factory(learning_rate, **self.resolve(hyper))

    def resolve(self, hyper: Mapping[str, Any]) -> dict[str, Any]:
        """Defaults filled in; unknown names and out-of-range values rejected."""
        unknown = set(hyper) - set(self.defaults)
        if unknown:
            allowed = ", ".join(self.defaults) or "none besides learning_rate"
            bad = sorted(unknown)[0]
            hint = ""
            if bad in BLOG_HYPERPARAMETERS:
                hint = f" (the blog's {bad!r} is {BLOG_HYPERPARAMETERS[bad]!r} here)"
            raise ConfigError(
                f"optimizer {self.name!r} has no hyperparameter {bad!r}{hint}; "
                f"its hyperparameters are: {allowed}"
            )
        out = {**self.defaults, **{k: v for k, v in hyper.items() if v is not None}}
        for key, value in out.items():
            check_hyperparameter(
                f"{self.name} {key}", value, *self.bounds.get(key, (0, math.inf, True))
            )
        return out


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


def check_hyperparameter(
    label: str, value, low: float, high: float, low_open: bool, high_open: bool = False
) -> None:
    """Raise a clear ``ValueError`` unless every entry of ``value`` is a finite number in range."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise ConfigError(f"{label} must be a number or a 1-D array of numbers, got {value!r}")
    arr = arr.astype(float)
    bad = ~np.isfinite(arr) | ((arr >= high) if high_open else (arr > high))
    bad |= (arr <= low) if low_open else (arr < low)
    if bad.any():
        first = float(arr.reshape(-1)[np.flatnonzero(bad.reshape(-1))[0]])
        allowed = describe_range(low, high, low_open, high_open)
        raise ConfigError(f"{label} must be a finite number {allowed}, got {first!r}")


REGISTRY: Registry[OptimizerSpec] = Registry("optimizer")
_UNIT = (0.0, 1.0, False, True)  # [0, 1): at 1 a moving average never forgets
_POS = (0.0, math.inf, True)


def _reg(spec: OptimizerSpec, aliases=()):
    REGISTRY.register(spec.name, spec, aliases=aliases, description=spec.description)


_reg(
    OptimizerSpec("gd", gd, {}, "gradient descent, full batch unless batch_size is set"),
    aliases=("sgd", "gradient_descent"),
)
_reg(
    OptimizerSpec(
        "minibatch", gd, {}, "the blog's MiniBatch: gd with batch_size 100", default_batch_size=100
    ),
    aliases=("mini_batch",),
)
_reg(
    OptimizerSpec(
        "momentum", momentum, {"momentum": 0.9}, "heavy-ball momentum", bounds={"momentum": _UNIT}
    )
)
_reg(
    OptimizerSpec(
        "nag", nag, {"momentum": 0.9}, "Nesterov accelerated gradient", bounds={"momentum": _UNIT}
    ),
    aliases=("nesterov",),
)
_reg(
    OptimizerSpec(
        "adagrad",
        adagrad,
        {"eps": 1e-10},
        "AdaGrad: per-parameter step shrinks",
        bounds={"eps": _POS},
    )
)
_reg(
    OptimizerSpec(
        "rmsprop",
        rmsprop,
        {"rho": 0.9, "eps": 1e-8},
        "RMSProp: step scaled by a running RMS of gradients",
        bounds={"rho": _UNIT, "eps": _POS},
    )
)
_reg(
    OptimizerSpec(
        "adam",
        adam,
        {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
        "Adam: momentum + RMSProp, bias-corrected",
        bounds={"beta1": _UNIT, "beta2": _UNIT, "eps": _POS},
    )
)
_reg(
    OptimizerSpec(
        "adamw",
        adamw,
        {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_decay": 0.01},
        "Adam with decoupled weight decay",
        bounds={
            "beta1": _UNIT,
            "beta2": _UNIT,
            "eps": _POS,
            "weight_decay": (0.0, math.inf, False),
        },
    )
)


def get(name: str | OptimizerSpec) -> OptimizerSpec:
    """The optimizer called ``name`` (blog spellings such as ``AdaGrad`` accepted)."""
    return name if isinstance(name, OptimizerSpec) else REGISTRY.get(name)


def names() -> list[str]:
    return REGISTRY.names()


def build(name: str, learning_rate: Hyper, **hyper: Hyper) -> GradientTransformation:
    """``get(name).build(learning_rate, **hyper)`` with the learning rate checked (> 0)."""
    check_hyperparameter("learning_rate", learning_rate, *_POS)
    return get(name).build(learning_rate, **hyper)


def translate_blog_hyperparameters(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the blog's ``fit`` keywords (``eta``, ``gamma``, ``beta``, ...) to ours."""
    return {BLOG_HYPERPARAMETERS.get(k, k): v for k, v in kwargs.items()}
