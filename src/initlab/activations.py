"""Activation functions, each with its derivative and recommended init gain side by side.

Every activation is one :class:`Activation` object holding the function ``f`` and
its derivative ``df`` next to each other (as micrograd keeps each op's backward
under its forward).  ``df`` is the derivative with respect to the
*pre-activation* ``z``; it also receives the output ``a = f(z)`` so that, for
example, ``tanh'(z) = 1 - a**2`` need not recompute ``tanh``.

All functions are numerically stable: no overflow warnings and finite results
for ``|z|`` up to ``1e4`` (and beyond), in float64 and float32.

Hyperparameters such as the leaky slope may be scalars or arrays that
broadcast against ``z``, so one object serves a whole population of networks
with per-model slopes.

Examples
--------
>>> from initlab import activations
>>> act = activations.get("leaky_relu", slope=0.2)
>>> act(np.array([-1.0, 2.0]))
array([-0.2,  2. ])
>>> act.grad(np.array([-1.0, 2.0]))
array([0.2, 1. ])
>>> round(activations.get("tanh").gain, 4)
1.6667
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from scipy import special

from ._registry import Param, Registry, check_params
from .errors import ConfigError

__all__ = ["Activation", "get", "names", "register", "REGISTRY", "SELU_ALPHA", "SELU_SCALE"]

# Klambauer et al. (2017), eq. (14): the constants that make N(0, 1) a fixed point.
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _like(value, z: np.ndarray):
    """``value`` in the floating dtype of ``z`` (so float32 stays float32)."""
    return np.asarray(value, dtype=z.dtype) if np.ndim(value) else z.dtype.type(value)


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity with its derivative and recommended init gain.

    Attributes
    ----------
    name : str
        Canonical registry name.
    f : callable
        ``f(z, **params) -> a``.
    df : callable
        ``df(z, a, **params) -> da/dz``, the derivative with respect to the
        pre-activation ``z``; ``a`` is ``f(z)``, passed to save work.
    out_ok : bool
        ``f`` and ``df`` also take ``out=`` (an array shaped like ``z``) and
        write their result there, so a training loop can reuse its buffers:
        a fresh multi-megabyte temporary costs page faults that can exceed the
        arithmetic (see docs/benchmarks.md).
    family : {"saturating", "rectifier", "smooth", "linear"}
        Saturating units (sigmoid, tanh) are diagnosed for saturation,
        rectifiers (ReLU family) for dead units.
    gain_rule : str
        Where :attr:`gain` comes from: ``"torch"`` (``torch.nn.init.calculate_gain``)
        or ``"second-moment"`` (``1 / sqrt(E[f(z)^2])`` for ``z ~ N(0, 1)``, by
        Gauss-Hermite quadrature, the rule that gives ReLU its sqrt(2)).
    params : mapping
        Bound hyperparameters (``slope`` for leaky ReLU, ``alpha`` for ELU);
        their defaults come from ``param_specs``.
    param_specs : tuple of Param
        Each hyperparameter's default, range and meaning, declared once here;
        the run schema makes each one a run field (``leaky_slope``, ``elu_alpha``).
    """

    name: str
    f: Callable[..., np.ndarray]
    df: Callable[..., np.ndarray]
    family: str
    description: str
    gain_rule: str = "torch"
    torch_gain: Callable[..., float] | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    out_ok: bool = False
    param_specs: tuple[Param, ...] = ()

    def __post_init__(self) -> None:
        if self.param_specs and not self.params:
            object.__setattr__(self, "params", {p.name: p.default for p in self.param_specs})

    def __call__(self, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``f(z)``; into ``out`` when given and supported (use the returned array)."""
        if out is not None and self.out_ok:
            return self.f(np.asarray(z), out=out, **self.params)
        return self.f(np.asarray(z), **self.params)

    def __reduce__(self):
        # pickled by name (and bound parameters), never by its functions
        return (_rebuild, (self.name, dict(self.params)))

    def grad(
        self, z: np.ndarray, a: np.ndarray | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Derivative with respect to the pre-activation ``z`` (``a = f(z)`` optional).

        Into ``out`` when given and supported; use the returned array.
        """
        z = np.asarray(z)
        a = self.f(z, **self.params) if a is None else a
        if out is not None and self.out_ok:
            return self.df(z, a, out=out, **self.params)
        return self.df(z, a, **self.params)

    def bind(self, **params) -> Activation:
        """The same activation with some hyperparameters replaced."""
        check_params("activation", self.name, params, self.params)
        for key, value in params.items():
            if np.ndim(value) == 0 and not np.isfinite(float(value)):
                raise ConfigError(f"{self.name} {key} must be finite, got {value!r}")
        return replace(self, params={**self.params, **params})

    @cached_property
    def gain(self) -> float:
        """Recommended scale for weights feeding this activation.

        As ``torch.nn.init.calculate_gain`` where torch defines one (linear,
        sigmoid 1; tanh 5/3; ReLU sqrt(2); leaky ReLU sqrt(2 / (1 + slope^2));
        SELU 3/4); otherwise the second-moment gain ``1 / sqrt(E[f(z)^2])``.
        """
        if self.torch_gain is not None:
            scalars = {k: float(np.mean(v)) for k, v in self.params.items()}
            return float(self.torch_gain(**scalars))
        return second_moment_gain(self)

    @property
    def saturates(self) -> bool:
        return self.family == "saturating"

    @property
    def rectifies(self) -> bool:
        return self.family == "rectifier"

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items() if np.ndim(v) == 0)
        return f"Activation({self.name!r}{extra})"


def _rebuild(name: str, params: dict) -> Activation:
    return get(name, **params) if params else get(name)


def second_moment_gain(act: Activation, order: int = 101) -> float:
    """``1 / sqrt(E[f(z)^2])`` for ``z ~ N(0, 1)``, by Gauss-Hermite quadrature."""
    x, w = np.polynomial.hermite_e.hermegauss(order)  # weight exp(-x^2 / 2)
    w = w / math.sqrt(2.0 * math.pi)
    moment = float(np.sum(w * act(x) ** 2))
    return 1.0 / math.sqrt(moment)


REGISTRY: Registry[Activation] = Registry("activation", "initlab.activations")


def register(act: Activation, aliases: tuple[str, ...] = ()) -> Activation:
    """Make ``act`` known by its name (and ``aliases``) everywhere: networks, sweeps, studies.

    Every registered activation is tested the moment it is registered (values,
    gradient by central differences, stability).  See CONTRIBUTING.md.
    """
    REGISTRY.register(act.name, act, aliases=aliases, description=act.description)
    return act


# --- sigmoid ---------------------------------------------------------------------------------
def _sigmoid(z, out=None):
    # 1 / (1 + e^-z) with one exp: faster than scipy's expit (about 10 vs 13 ns per
    # float64 element, 3 vs 8 in float32; benchmarks/), within 2 ulp of it.  e^-z
    # overflows to inf for very negative z, giving the right limit 0.
    if z.ndim == 0 or z.dtype.kind != "f":
        return special.expit(z)
    e = np.negative(z, out=out)
    with np.errstate(over="ignore"):
        np.exp(e, out=e)
    e += 1
    return np.reciprocal(e, out=e)


def _sigmoid_df(z, a, out=None):
    g = np.subtract(a.dtype.type(1), a, out=out)
    g *= a  # a (1 - a)
    return g


register(
    Activation(
        "sigmoid",
        _sigmoid,
        _sigmoid_df,
        "saturating",
        "logistic 1 / (1 + e^-z); saturates at 0 and 1, mean 1/2",
        torch_gain=lambda: 1.0,
        out_ok=True,
    ),
    aliases=("logistic",),
)


# --- tanh ------------------------------------------------------------------------------------
def _tanh(z, out=None):
    # NumPy's tanh, although 1 - 2 / (e^{2z} + 1) costs one exp (about 10 vs 19 ns per
    # float64 element): that form loses relative accuracy for small |z| (absolute error
    # ~1e-16), which breaks consumers that look at tiny pre-activations (the mean-field
    # fixed point of tanh at q -> 0).
    return np.tanh(z, out=out)


def _tanh_df(z, a, out=None):
    g = np.multiply(a, a, out=out)
    return np.subtract(a.dtype.type(1), g, out=g)  # 1 - a^2


register(
    Activation(
        "tanh",
        _tanh,
        _tanh_df,
        "saturating",
        "hyperbolic tangent; zero-centred, saturates at -1 and 1",
        torch_gain=lambda: 5.0 / 3.0,
        out_ok=True,
    )
)


# --- ReLU family -----------------------------------------------------------------------------
def _relu(z, out=None):
    return np.maximum(z, 0, out=out)


def _relu_df(z, a, out=None):
    if out is None:
        return (z > 0).astype(z.dtype)  # 0 at z = 0, as PyTorch
    return np.greater(z, 0, out=out)


register(
    Activation(
        "relu",
        _relu,
        _relu_df,
        "rectifier",
        "max(0, z); units can die",
        torch_gain=lambda: math.sqrt(2.0),
        out_ok=True,
    )
)


def _leaky(z, slope, out=None):
    slope = _like(slope, z)
    if np.all((slope > 0) & (slope <= 1)):
        # max(z, slope z) equals the where() below for 0 < slope <= 1, NaN and
        # infinities included (slope 0 would turn inf into NaN), and is ~10x faster.
        sz = np.multiply(slope, z, out=out)
        return np.maximum(z, sz, out=sz)
    return np.where(z > 0, z, slope * z)


def _leaky_df(z, a, slope, out=None):
    # 1 for z > 0, slope otherwise (slope at z = 0 and for NaN, as the where() form and
    # PyTorch), as (z > 0)(1 - slope) + slope: three cheap ufuncs instead of a where()
    # over a broadcast slope.  (1 - s) + s rounds to exactly 1 for 0 <= s <= 1.
    slope = _like(slope, z)
    g = np.greater(z, 0).astype(z.dtype) if out is None else np.greater(z, 0, out=out)
    g *= z.dtype.type(1) - slope
    g += slope
    return g


register(
    Activation(
        "leaky_relu",
        _leaky,
        _leaky_df,
        "rectifier",
        "max(slope * z, z) with slope 0.1 by default (the blog's)",
        torch_gain=lambda slope: math.sqrt(2.0 / (1.0 + slope**2)),
        out_ok=True,
        param_specs=(
            Param(
                "slope",
                0.1,  # the blog's
                "negative slope of leaky_relu: f(z) = slope * z for z < 0",
                low=0.0,
                high=1.0,
                key="leaky_slope",
                since=1,
            ),
        ),
    ),
    aliases=("leakyrelu", "lrelu", "prelu"),
)


def _elu(z, alpha):
    return np.where(z > 0, z, _like(alpha, z) * np.expm1(np.minimum(z, 0)))


def _elu_df(z, a, alpha):
    return np.where(z > 0, z.dtype.type(1), _like(alpha, z) * np.exp(np.minimum(z, 0)))


register(
    Activation(
        "elu",
        _elu,
        _elu_df,
        "rectifier",
        "z for z > 0, alpha (e^z - 1) otherwise (Clevert 2016)",
        gain_rule="second-moment",
        param_specs=(
            Param(
                "alpha",
                1.0,
                "ELU saturation: f(z) -> -alpha as z -> -inf",
                low=0.0,
                low_open=True,
            ),
        ),
    )
)


def _selu(z):
    neg = SELU_ALPHA * np.expm1(np.minimum(z, 0))
    return _like(SELU_SCALE, z) * np.where(z > 0, z, _like(neg, z))


def _selu_df(z, a):
    neg = SELU_ALPHA * np.exp(np.minimum(z, 0))
    return _like(SELU_SCALE, z) * np.where(z > 0, z.dtype.type(1), _like(neg, z))


register(
    Activation(
        "selu",
        _selu,
        _selu_df,
        "smooth",
        "scaled ELU whose fixed point is mean 0, variance 1 (Klambauer 2017)",
        torch_gain=lambda: 0.75,
    )
)


# --- smooth rectifiers -----------------------------------------------------------------------
def _gelu(z):
    return 0.5 * z * (1 + special.erf(z / _SQRT_2))


def _gelu_df(z, a):
    cdf = 0.5 * (1 + special.erf(z / _SQRT_2))
    pdf = _like(_INV_SQRT_2PI, z) * np.exp(-0.5 * z * z)
    return cdf + z * pdf


register(
    Activation(
        "gelu",
        _gelu,
        _gelu_df,
        "smooth",
        "z * Phi(z), exact erf form (Hendrycks & Gimpel 2016)",
        gain_rule="second-moment",
    )
)


def _silu(z):
    return z * special.expit(z)


def _silu_df(z, a):
    s = special.expit(z)
    return s * (1 + z * (1 - s))


register(
    Activation(
        "silu",
        _silu,
        _silu_df,
        "smooth",
        "z * sigmoid(z) (Elfwing 2018; swish)",
        gain_rule="second-moment",
    ),
    aliases=("swish",),
)


def _softplus(z):
    return np.logaddexp(z.dtype.type(0), z)


def _softplus_df(z, a):
    return special.expit(z)


register(
    Activation(
        "softplus",
        _softplus,
        _softplus_df,
        "smooth",
        "log(1 + e^z), a smooth ReLU",
        gain_rule="second-moment",
    )
)


def _mish(z):
    return z * np.tanh(np.logaddexp(z.dtype.type(0), z))


def _mish_df(z, a):
    t = np.tanh(np.logaddexp(z.dtype.type(0), z))
    return t + z * (1 - t * t) * special.expit(z)


register(
    Activation(
        "mish",
        _mish,
        _mish_df,
        "smooth",
        "z * tanh(softplus(z)) (Misra 2019)",
        gain_rule="second-moment",
    )
)


# --- linear ----------------------------------------------------------------------------------
def _linear(z):
    return z


def _linear_df(z, a):
    return np.ones_like(z)


register(
    Activation(
        "linear",
        _linear,
        _linear_df,
        "linear",
        "identity; a deep linear network",
        torch_gain=lambda: 1.0,
    ),
    aliases=("identity", "none"),
)


def get(name: str | Activation, **params) -> Activation:
    """The activation called ``name`` (case-insensitive, aliases allowed).

    Keyword arguments bind hyperparameters (``slope`` for leaky ReLU, ``alpha``
    for ELU); an unknown name raises a ``ValueError`` suggesting the closest.
    """
    act = name if isinstance(name, Activation) else REGISTRY.get(name)
    return act.bind(**params) if params else act


def names() -> list[str]:
    """Canonical names of all registered activations."""
    return REGISTRY.names()
