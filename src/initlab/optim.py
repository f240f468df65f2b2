"""Gradient-descent variants as pure ``(init, update)`` pairs with explicit state, composed.

In the style of optax: an optimizer is a :class:`GradientTransformation`;
``state = opt.init(params)`` and ``updates, state = opt.update(grads, state,
params)``, then ``params[i] += updates[i]``.  State is a NamedTuple of arrays;
nothing is hidden or mutated between calls.

Optimizers are built from small transformations with :func:`chain`:
:func:`scale_by_momentum`, :func:`scale_by_rss`, :func:`scale_by_rms`,
:func:`scale_by_adam`, :func:`scale_by_lion`, :func:`add_decayed_weights` and
:func:`scale_by_learning_rate`.  Each named optimizer is one chain whose
hyperparameters and defaults are its signature, read by the registry::

    def adamw(learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        return chain(scale_by_adam(beta1, beta2, eps), add_decayed_weights(weight_decay),
                     scale_by_learning_rate(learning_rate))

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
lion       ``p -= lr * (sign(beta1 * m + (1 - beta1) * g) + weight_decay * p)``;
           ``m = beta2 * m + (1 - beta2) * g``  (Chen et al. 2023)
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

import functools
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

from ._registry import Registry, describe_range
from .errors import ConfigError

__all__ = [
    "GradientTransformation",
    "OptimizerSpec",
    "REGISTRY",
    "BOUNDS",
    "register",
    "get",
    "names",
    "hyperparameters",
    "build",
    "check_hyperparameter",
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
    "lion",
    "chain",
    "scale_by_learning_rate",
    "scale_by_momentum",
    "scale_by_rss",
    "scale_by_rms",
    "scale_by_adam",
    "scale_by_lion",
    "add_decayed_weights",
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
    """A pure optimizer: ``init(params) -> state``, ``update(grads, state, params)``.

    ``update`` returns ``(updates, new_state)``; the updates are added to the
    parameters.  Two optional fields serve :func:`chain`: ``learning_rate`` is
    set by :func:`scale_by_learning_rate` only, and ``fold(learning_rate)`` is
    this transformation followed by that scaling in one pass over the
    parameters, with the learning rate where the textbook formula puts it
    (``lr * g / (sqrt(s) + eps)``).

    ``recipe`` is ``(name, hyperparameters)`` for the named optimizers the
    compiled engine (:mod:`initlab.kernels`) implements
    (``("momentum", {"learning_rate": ..., "momentum": ...})``), so that it can
    run the same update; None for other chains, which the NumPy engine runs.
    """

    init: Callable[[Params], Any]
    update: Callable[[Params, Any, Params], tuple[list[np.ndarray], Any]]
    learning_rate: Hyper | None = None
    fold: Callable[[Hyper], GradientTransformation] | None = None
    recipe: tuple[str, dict] | None = None


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


def _descent(learning_rate: Hyper | None) -> Callable[[np.ndarray], np.ndarray]:
    """``u -> -lr * u`` (the identity without a learning rate): a folded final step."""
    if learning_rate is None:
        return lambda u: u
    lr = _Broadcaster(learning_rate)
    return lambda u: -lr(u) * u


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


class LionState(NamedTuple):
    mu: list[np.ndarray]


# --- the transformations ---------------------------------------------------------------------
def scale_by_learning_rate(learning_rate: Hyper) -> GradientTransformation:
    """``u -> -lr * u``: the step of gradient descent (optax ``scale_by_learning_rate``)."""
    step = _descent(learning_rate)

    def update(updates, state, params=None):
        return [step(u) for u in updates], state

    return GradientTransformation(lambda params: EmptyState(), update, learning_rate=learning_rate)


def scale_by_momentum(
    momentum: Hyper = 0.9, nesterov: bool = False, *, learning_rate: Hyper | None = None
) -> GradientTransformation:
    """Heavy-ball momentum (Polyak 1964): ``v = mu v + u``, out ``v``.

    With ``nesterov=True``, out ``u + mu v``: Nesterov's look-ahead gradient
    rewritten at the current parameters (Sutskever et al. 2013), as
    ``torch.optim.SGD(nesterov=True)`` (optax ``trace``).  With a
    ``learning_rate``: out ``-lr`` times that, in the same pass.
    """
    mu, step = _Broadcaster(momentum), _descent(learning_rate)

    def update(updates, state, params=None):
        vel = [mu(u) * v + u for u, v in zip(updates, state.velocity, strict=True)]
        if nesterov:
            out = [step(u + mu(u) * v) for u, v in zip(updates, vel, strict=True)]
        else:
            out = [step(v) for v in vel]
        return out, TraceState(vel)

    def fold(rate):  # this step followed by scale_by_learning_rate(rate)
        return scale_by_momentum(momentum, nesterov, learning_rate=rate)

    return GradientTransformation(
        lambda params: TraceState(_zeros_like(params)),
        update,
        fold=fold if learning_rate is None else None,
    )


def scale_by_rss(
    eps: Hyper = 1e-10, *, learning_rate: Hyper | None = None
) -> GradientTransformation:
    """AdaGrad's scaling (Duchi et al. 2011): ``s += u^2``, out ``u / (sqrt(s) + eps)``.

    With a ``learning_rate``: out ``-lr u / (sqrt(s) + eps)``, in the same pass.
    """
    ep, step = _Broadcaster(eps), _descent(learning_rate)

    def update(updates, state, params=None):
        acc = [s + u * u for u, s in zip(updates, state.sum_of_squares, strict=True)]
        out = [step(u) / (np.sqrt(s) + ep(u)) for u, s in zip(updates, acc, strict=True)]
        return out, SumState(acc)

    def fold(rate):  # this step followed by scale_by_learning_rate(rate)
        return scale_by_rss(eps, learning_rate=rate)

    return GradientTransformation(
        lambda params: SumState(_zeros_like(params)),
        update,
        fold=fold if learning_rate is None else None,
    )


def scale_by_rms(
    rho: Hyper = 0.9, eps: Hyper = 1e-8, *, learning_rate: Hyper | None = None
) -> GradientTransformation:
    """RMSProp's scaling (Hinton 2012): ``s = rho s + (1 - rho) u^2``, out ``u / (sqrt(s) + eps)``.

    With a ``learning_rate``: out ``-lr u / (sqrt(s) + eps)``, in the same pass.
    """
    r, ep, step = _Broadcaster(rho), _Broadcaster(eps), _descent(learning_rate)

    def update(updates, state, params=None):
        acc = [
            r(u) * s + (1 - r(u)) * (u * u)
            for u, s in zip(updates, state.sum_of_squares, strict=True)
        ]
        out = [step(u) / (np.sqrt(s) + ep(u)) for u, s in zip(updates, acc, strict=True)]
        return out, SumState(acc)

    def fold(rate):  # this step followed by scale_by_learning_rate(rate)
        return scale_by_rms(rho, eps, learning_rate=rate)

    return GradientTransformation(
        lambda params: SumState(_zeros_like(params)),
        update,
        fold=fold if learning_rate is None else None,
    )


def scale_by_adam(
    beta1: Hyper = 0.9,
    beta2: Hyper = 0.999,
    eps: Hyper = 1e-8,
    *,
    learning_rate: Hyper | None = None,
) -> GradientTransformation:
    """Adam's scaling (Kingma & Ba 2015): EMAs ``m, v`` of ``u, u^2``, bias-corrected.

    Out ``m_hat / (sqrt(v_hat) + eps)`` with ``m_hat = m / (1 - beta1^t)``,
    ``v_hat = v / (1 - beta2^t)`` at step ``t``.  With a ``learning_rate``:
    out ``-lr`` times that, in the same pass.
    """
    b1, b2, ep = _Broadcaster(beta1), _Broadcaster(beta2), _Broadcaster(eps)
    step = _descent(learning_rate)

    def update(updates, state, params=None):
        t = state.count + 1
        mu = [b1(u) * m + (1 - b1(u)) * u for u, m in zip(updates, state.mu, strict=True)]
        nu = [b2(u) * v + (1 - b2(u)) * (u * u) for u, v in zip(updates, state.nu, strict=True)]
        out = []
        for u, m, v in zip(updates, mu, nu, strict=True):
            m_hat = m / (1 - b1(u) ** t)
            v_hat = v / (1 - b2(u) ** t)
            out.append(step(m_hat / (np.sqrt(v_hat) + ep(u))))
        return out, AdamState(t, mu, nu)

    def fold(rate):  # this step followed by scale_by_learning_rate(rate)
        return scale_by_adam(beta1, beta2, eps, learning_rate=rate)

    return GradientTransformation(
        lambda params: AdamState(0, _zeros_like(params), _zeros_like(params)),
        update,
        fold=fold if learning_rate is None else None,
    )


def add_decayed_weights(
    weight_decay: Hyper = 0.0, *, learning_rate: Hyper | None = None
) -> GradientTransformation:
    """``u -> u + weight_decay * p``: weight decay as its own step (optax ``add_decayed_weights``).

    Before :func:`scale_by_learning_rate` this is decoupled weight decay
    (Loshchilov & Hutter 2019): ``p -= lr * (u + wd * p)``, which a
    ``learning_rate`` takes in the same pass as ``-lr u - lr wd p``.  A decay of 0
    for every model adds nothing.
    """
    wd = _Broadcaster(weight_decay)
    lr = None if learning_rate is None else _Broadcaster(learning_rate)
    decays = bool(np.any(np.asarray(weight_decay) != 0))

    def update(updates, state, params):
        if lr is None:
            out = (
                [u + wd(u) * p for u, p in zip(updates, params, strict=True)] if decays else updates
            )
        elif decays:  # -lr u - lr wd p
            out = [-lr(u) * u - lr(u) * wd(u) * p for u, p in zip(updates, params, strict=True)]
        else:
            out = [-lr(u) * u for u in updates]
        return list(out), state

    def fold(rate):  # this step followed by scale_by_learning_rate(rate)
        return add_decayed_weights(weight_decay, learning_rate=rate)

    return GradientTransformation(
        lambda params: EmptyState(),
        update,
        fold=fold if learning_rate is None else None,
    )


def scale_by_lion(beta1: Hyper = 0.9, beta2: Hyper = 0.99) -> GradientTransformation:
    """Lion's scaling (Chen et al. 2023, "Symbolic discovery of optimization algorithms").

    Out ``sign(beta1 m + (1 - beta1) u)``, then ``m = beta2 m + (1 - beta2) u``:
    every coordinate moves by exactly the learning rate.
    """
    b1, b2 = _Broadcaster(beta1), _Broadcaster(beta2)

    def update(updates, state, params=None):
        pairs = list(zip(updates, state.mu, strict=True))
        out = [np.sign(b1(u) * m + (1 - b1(u)) * u) for u, m in pairs]
        return out, LionState([b2(u) * m + (1 - b2(u)) * u for u, m in pairs])

    return GradientTransformation(lambda params: LionState(_zeros_like(params)), update)


class ChainState(NamedTuple):
    """The states of a chain's transformations, in order."""

    states: tuple


def chain(*transforms: GradientTransformation) -> GradientTransformation:
    """The transformations applied one after the other (optax ``chain``).

    A :func:`scale_by_learning_rate` right after a transformation that can
    fold it (one that has no learning rate yet) is computed in that
    transformation's pass (``fold``): the same formula, one pass over the
    parameters fewer.  A chain of one is that
    transformation itself.

    Examples
    --------
    >>> opt = chain(scale_by_momentum(0.9), scale_by_learning_rate(0.1))
    >>> params = [np.ones((1, 2))]
    >>> state = opt.init(params)
    >>> updates, state = opt.update([np.ones((1, 2))], state, params)
    >>> updates[0].tolist()
    [[-0.1, -0.1]]
    """
    steps: list[GradientTransformation] = []
    for t in transforms:
        if t.learning_rate is not None and steps and steps[-1].fold is not None:
            steps[-1] = steps[-1].fold(t.learning_rate)
        else:
            steps.append(t)
    if len(steps) == 1:
        return steps[0]

    def init(params):
        return ChainState(tuple(t.init(params) for t in steps))

    def update(grads, state, params=None):
        updates, new = grads, []
        for t, s in zip(steps, state.states, strict=True):
            updates, s = t.update(updates, s, params)
            new.append(s)
        return updates, ChainState(tuple(new))

    return GradientTransformation(init, update)


# --- the named optimizers: one chain each, hyperparameter defaults in the signature --------
def _compiled_as(kernel: str, **fixed: Hyper):
    """Label a named optimizer's chain with its ``recipe``: the compiled kernel that runs
    the same update, and the hyperparameters it was built with (plus ``fixed`` ones)."""

    def wrap(factory):
        signature = inspect.signature(factory)

        @functools.wraps(factory)
        def build(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return factory(*args, **kwargs)._replace(recipe=(kernel, {**bound.arguments, **fixed}))

        return build

    return wrap


@_compiled_as("gd")
def gd(learning_rate: Hyper) -> GradientTransformation:
    """Plain gradient descent, ``p -= lr * g`` (``torch.optim.SGD``)."""
    return chain(scale_by_learning_rate(learning_rate))


@_compiled_as("momentum")
def momentum(learning_rate: Hyper, momentum: Hyper = 0.9) -> GradientTransformation:
    """Heavy-ball momentum: ``v = mu v + g; p -= lr v`` (``torch.optim.SGD(momentum=mu)``).

    The blog's ``v = gamma v + eta g; p -= v`` is the same trajectory for a
    constant learning rate.
    """
    return chain(scale_by_momentum(momentum), scale_by_learning_rate(learning_rate))


@_compiled_as("nag")
def nag(learning_rate: Hyper, momentum: Hyper = 0.9) -> GradientTransformation:
    """Nesterov accelerated gradient: ``v = mu v + g; p -= lr (g + mu v)`` (torch's form)."""
    return chain(scale_by_momentum(momentum, nesterov=True), scale_by_learning_rate(learning_rate))


@_compiled_as("adagrad")
def adagrad(learning_rate: Hyper, eps: Hyper = 1e-10) -> GradientTransformation:
    """AdaGrad (Duchi et al. 2011): ``s += g^2; p -= lr g / (sqrt(s) + eps)``."""
    return chain(scale_by_rss(eps), scale_by_learning_rate(learning_rate))


@_compiled_as("rmsprop")
def rmsprop(learning_rate: Hyper, rho: Hyper = 0.9, eps: Hyper = 1e-8) -> GradientTransformation:
    """RMSProp (Hinton 2012): ``s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)``.

    ``rho`` is the blog's ``beta`` and torch's ``alpha`` (torch's default is
    0.99; ours is Hinton's and the blog's 0.9).
    """
    return chain(scale_by_rms(rho, eps), scale_by_learning_rate(learning_rate))


@_compiled_as("adam", weight_decay=0.0)
def adam(
    learning_rate: Hyper, beta1: Hyper = 0.9, beta2: Hyper = 0.999, eps: Hyper = 1e-8
) -> GradientTransformation:
    """Adam (Kingma & Ba 2015), bias-corrected, as ``torch.optim.Adam``."""
    return chain(scale_by_adam(beta1, beta2, eps), scale_by_learning_rate(learning_rate))


@_compiled_as("adam")
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
    return chain(
        scale_by_adam(beta1, beta2, eps),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


def lion(
    learning_rate: Hyper, beta1: Hyper = 0.9, beta2: Hyper = 0.99, weight_decay: Hyper = 0.0
) -> GradientTransformation:
    """Lion (Chen et al. 2023): ``p -= lr (sign(beta1 m + (1 - beta1) g) + wd p)``.

    Take a learning rate 3-10 times smaller than Adam's: the sign gives every
    coordinate a step of size ``lr``.
    """
    return chain(
        scale_by_lion(beta1, beta2),
        add_decayed_weights(weight_decay),
        scale_by_learning_rate(learning_rate),
    )


# --- the registry ----------------------------------------------------------------------------
_UNIT = (0.0, 1.0, False, True)  # [0, 1): at 1 a moving average never forgets
_POS = (0.0, math.inf, True)  # > 0
_NONNEG = (0.0, math.inf, False)  # >= 0

#: Allowed range ``(low, high, low_open[, high_open])`` of each hyperparameter, by name, for every
#: optimizer that has it (an optimizer's own ``bounds`` override it; unlisted: > 0).
BOUNDS: dict[str, tuple] = {
    "momentum": _UNIT,
    "rho": _UNIT,
    "beta1": _UNIT,
    "beta2": _UNIT,
    "eps": _POS,
    "weight_decay": _NONNEG,
}


@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer: its factory, and its hyperparameters read from the factory.

    ``defaults`` (hyperparameter -> default) come from the factory's signature,
    every parameter after ``learning_rate``; ``bounds`` (hyperparameter ->
    ``(low, high, low_open[, high_open])``) from :data:`BOUNDS` unless given.
    """

    name: str
    factory: Callable[..., GradientTransformation]
    description: str = ""
    default_batch_size: int | None = None
    #: hyperparameter -> (low, high, low_open[, high_open]): the allowed range
    bounds: Mapping[str, tuple] = field(default_factory=dict)
    defaults: Mapping[str, float] = field(init=False)

    def __post_init__(self):
        params = list(inspect.signature(self.factory).parameters.values())
        if not params or params[0].name != "learning_rate":
            raise TypeError(
                f"optimizer {self.name!r}: the factory's first argument must be learning_rate"
            )
        missing = [p.name for p in params[1:] if p.default is inspect.Parameter.empty]
        if missing:
            raise TypeError(f"optimizer {self.name!r}: hyperparameter(s) {missing} need a default")
        defaults = {p.name: p.default for p in params[1:]}
        bounds = {k: self.bounds.get(k, BOUNDS.get(k, _POS)) for k in defaults}
        object.__setattr__(self, "defaults", MappingProxyType(defaults))
        object.__setattr__(self, "bounds", MappingProxyType(bounds))

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
            check_hyperparameter(f"{self.name} {key}", value, *self.bounds[key])
        return out


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


REGISTRY: Registry[OptimizerSpec] = Registry("optimizer", "initlab.optimizers")


def register(
    factory: Callable[..., GradientTransformation],
    description: str | None = None,
    *,
    name: str | None = None,
    aliases: Sequence[str] = (),
    default_batch_size: int | None = None,
    bounds: Mapping[str, tuple] | None = None,
) -> OptimizerSpec:
    """Register ``factory(learning_rate, **hyperparameters)`` under its name.

    Parameters
    ----------
    factory : callable
        Returns a :class:`GradientTransformation`; its parameters after
        ``learning_rate`` are the hyperparameters, with their defaults.
    description : str, optional
        Default: the first line of the factory's docstring.
    name : str, optional
        Default: the factory's ``__name__``.
    aliases : names that also find it
    default_batch_size : int, optional
        The batch size when none is given (``minibatch``: 100).
    bounds : mapping, optional
        Ranges of hyperparameters not in :data:`BOUNDS`, or overrides.
    """
    doc = (factory.__doc__ or "").strip().splitlines()
    spec = OptimizerSpec(
        name or factory.__name__,
        factory,
        description if description is not None else (doc[0] if doc else ""),
        default_batch_size,
        dict(bounds or {}),
    )
    REGISTRY.register(spec.name, spec, aliases=tuple(aliases), description=spec.description)
    return spec


register(
    gd, "gradient descent, full batch unless batch_size is set", aliases=("sgd", "gradient_descent")
)
register(
    gd,
    "the blog's MiniBatch: gd with batch_size 100",
    name="minibatch",
    aliases=("mini_batch",),
    default_batch_size=100,
)
register(momentum, "heavy-ball momentum")
register(nag, "Nesterov accelerated gradient", aliases=("nesterov",))
register(adagrad, "AdaGrad: per-parameter step shrinks")
register(rmsprop, "RMSProp: step scaled by a running RMS of gradients")
register(adam, "Adam: momentum + RMSProp, bias-corrected")
register(adamw, "Adam with decoupled weight decay")
register(lion, "Lion: the sign of a momentum, decoupled weight decay (Chen et al. 2023)")


def get(name: str | OptimizerSpec) -> OptimizerSpec:
    """The optimizer called ``name`` (blog spellings such as ``AdaGrad`` accepted)."""
    return name if isinstance(name, OptimizerSpec) else REGISTRY.get(name)


def names() -> list[str]:
    return REGISTRY.names()


def hyperparameters() -> list[str]:
    """Every hyperparameter of the registered optimizers, in order of first appearance."""
    return list(dict.fromkeys(k for n in names() for k in get(n).defaults))


def build(name: str, learning_rate: Hyper, **hyper: Hyper) -> GradientTransformation:
    """``get(name).build(learning_rate, **hyper)`` with the learning rate checked (> 0)."""
    check_hyperparameter("learning_rate", learning_rate, *_POS)
    return get(name).build(learning_rate, **hyper)


def translate_blog_hyperparameters(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Rename the blog's ``fit`` keywords (``eta``, ``gamma``, ``beta``, ...) to ours."""
    return {BLOG_HYPERPARAMETERS.get(k, k): v for k, v in kwargs.items()}
