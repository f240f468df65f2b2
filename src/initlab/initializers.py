"""Weight and bias initializers.

All the classic schemes are one function, :func:`variance_scaling`, with
different arguments (as in JAX and Keras): draw each weight with variance
``scale / n`` where ``n`` is the fan-in, the fan-out or their average.

=================  =====  ========  ============  =================================
name               scale  mode      distribution  paper
=================  =====  ========  ============  =================================
lecun_normal       1      fan_in    normal        LeCun et al. 1998
lecun_uniform      1      fan_in    uniform
xavier_normal      1      fan_avg   normal        Glorot & Bengio 2010
xavier_uniform     1      fan_avg   uniform       (their "normalized initialization")
he_normal          2      fan_in    normal        He et al. 2015
he_uniform         2      fan_in    uniform
=================  =====  ========  ============  =================================

Plus ``zeros``, ``random`` (N(0, 1), the blog's "random"), ``orthogonal``
(Saxe et al. 2013) and ``lsuv`` (Mishkin & Matas 2015, data-dependent; the
engine runs its rescaling loop, see :func:`initlab.engine.lsuv`).

Weights are laid out ``(..., fan_in, fan_out)`` (``X @ W``, as scikit-learn's
``coefs_``); fans are read from the last two axes.  Every initializer takes an
explicit ``rng``: a :class:`numpy.random.Generator`, or a legacy
:class:`numpy.random.RandomState` where a published recipe (the blog's
``np.random.seed(0); np.random.randn``) has to be matched bit for bit.

The normal variants are plain normals, as ``torch.nn.init.xavier_normal_`` and
``kaiming_normal_``; Keras and JAX use a truncated normal for ``he_normal`` and
``lecun_normal``, available as ``variance_scaling(s, mode, "truncated_normal")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from ._registry import Registry, check_params
from .errors import ConfigError

__all__ = [
    "Initializer",
    "variance_scaling",
    "get",
    "get_bias",
    "names",
    "register",
    "bias_names",
    "make_rng",
    "REGISTRY",
    "BIAS_REGISTRY",
]

Rng = np.random.Generator | np.random.RandomState

# Standard deviation of a standard normal truncated to (-2, 2); dividing by it
# restores the requested variance after truncation (JAX/Keras use the same constant).
_TRUNC_STD = 0.87962566103423978

MODES = ("fan_in", "fan_out", "fan_avg")
DISTRIBUTIONS = ("normal", "truncated_normal", "uniform")
RNG_KINDS = ("generator", "legacy")


def make_rng(seed: int | Rng, kind: str = "generator") -> Rng:
    """A random generator from an integer seed.

    ``kind="generator"`` gives ``numpy.random.default_rng(seed)`` (PCG64);
    ``kind="legacy"`` gives ``numpy.random.RandomState(seed)``, the stream of
    ``np.random.seed(seed)`` that published NumPy recipes use.  An existing
    generator is returned unchanged.
    """
    if isinstance(seed, (np.random.Generator, np.random.RandomState)):
        return seed
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {type(seed).__name__} {seed!r}")
    if seed < 0 or seed >= 2**32:
        raise ConfigError(f"seed must be in [0, 2**32), got {seed}")
    if kind == "generator":
        return np.random.default_rng(int(seed))
    if kind == "legacy":
        return np.random.RandomState(int(seed))
    raise ConfigError(f"unknown rng kind {kind!r}; choose one of: {', '.join(RNG_KINDS)}")


def _fans(shape: tuple[int, ...]) -> tuple[int, int]:
    if len(shape) < 2:
        raise ConfigError(f"weight shape needs at least 2 axes (fan_in, fan_out), got {shape}")
    return int(shape[-2]), int(shape[-1])


def _standard_normal(rng: Rng, shape, dtype) -> np.ndarray:
    return rng.standard_normal(size=shape).astype(dtype, copy=False)


def _truncated_normal(rng: Rng, shape, dtype) -> np.ndarray:
    """Standard normal truncated to (-2, 2), by redrawing the values outside."""
    out = rng.standard_normal(size=shape)
    bad = np.abs(out) >= 2
    while bad.any():
        out[bad] = rng.standard_normal(size=int(bad.sum()))
        bad = np.abs(out) >= 2
    return out.astype(dtype, copy=False)


@dataclass(frozen=True)
class Initializer:
    """A named weight initializer: ``init(rng, shape, dtype) -> array``.

    Attributes
    ----------
    name : str
    fn : callable
        ``fn(rng, shape, dtype, **params) -> array``.
    description : str
    variance_fn : callable
        ``variance_fn(fan_in, fan_out, **params) -> Var[W]``, the variance the
        initializer draws with, defined next to ``fn`` (NaN when it depends on
        the data, as for LSUV).  :meth:`variance` calls it with the bound
        parameters; diagnostics and mean-field theory read it, so a name means
        the same network everywhere.
    scale, mode, distribution : optional
        Set when the initializer is a :func:`variance_scaling` member
        (``Var[W] = scale / n_mode``).
    data_dependent : bool
        True for LSUV, which also needs the data and the activation; the
        engine completes it (``fn`` gives its orthogonal start).
    params : mapping
        Bound parameters (``std`` of ``random``, ``gain`` of ``orthogonal``,
        ``a`` of He), passed to ``fn`` and ``variance_fn``.
    """

    name: str
    fn: Callable[..., np.ndarray]
    description: str = ""
    scale: float | None = None
    mode: str | None = None
    distribution: str | None = None
    data_dependent: bool = False
    params: Mapping[str, object] = field(default_factory=dict)
    variance_fn: Callable[..., float] | None = None

    def __call__(self, rng: Rng, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        return self.fn(rng, tuple(shape), np.dtype(dtype), **self.params)

    def bind(self, **params) -> Initializer:
        check_params("initializer", self.name, params, self.params)
        return replace(self, params={**self.params, **params})

    def variance(self, fan_in: int, fan_out: int) -> float:
        """``Var[W]`` for a layer with these fans (NaN when it depends on the data).

        Examples
        --------
        >>> get("he_normal").variance(256, 128) * 256
        2.0
        >>> round(get("he_normal", a=0.2).variance(256, 128) * 256, 4)  # leaky ReLU, slope 0.2
        1.9231
        """
        if self.variance_fn is None:
            return math.nan
        return float(self.variance_fn(fan_in, fan_out, **self.params))


def _fan(mode: str, fan_in: int, fan_out: int) -> float:
    """The ``n`` of ``Var[W] = scale / n``: the fan-in, the fan-out or their mean."""
    return {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]


def _draw(rng: Rng, shape, dtype, variance: float, distribution: str) -> np.ndarray:
    """Zero-mean weights of the given variance from ``distribution``."""
    if distribution == "normal":
        return _standard_normal(rng, shape, dtype) * dtype.type(math.sqrt(variance))
    if distribution == "truncated_normal":
        std = math.sqrt(variance) / _TRUNC_STD
        return _truncated_normal(rng, shape, dtype) * dtype.type(std)
    limit = math.sqrt(3.0 * variance)  # uniform(-a, a) has variance a^2 / 3
    return rng.uniform(-limit, limit, size=shape).astype(dtype, copy=False)


def variance_scaling(
    scale: float, mode: str = "fan_in", distribution: str = "normal", name: str | None = None
) -> Initializer:
    """Draw weights with variance ``scale / n``, ``n`` chosen by ``mode``.

    The one general initializer behind LeCun, Glorot/Xavier and He/Kaiming
    (JAX ``jax.nn.initializers.variance_scaling``, Keras ``VarianceScaling``).

    Parameters
    ----------
    scale : float
        Target ``n * Var[W]``: 1 keeps the variance of a linear layer's
        output equal to its input's (LeCun); 2 compensates ReLU zeroing half
        its inputs (He); ``gain**2`` in general.
    mode : {"fan_in", "fan_out", "fan_avg"}
        ``n`` is the fan-in (forward signal preserved), the fan-out (backward
        gradient preserved) or their mean (Glorot's compromise).
    distribution : {"normal", "truncated_normal", "uniform"}
        ``normal``: N(0, scale/n).  ``truncated_normal``: normal cut at two
        standard deviations, rescaled by 1/0.8796... to keep the variance.
        ``uniform``: U(-limit, limit) with ``limit = sqrt(3 * scale / n)``
        (a uniform on [-a, a] has variance a^2 / 3).

    Examples
    --------
    >>> he = variance_scaling(2.0, "fan_in", "normal")
    >>> W = he(np.random.default_rng(0), (256, 128))
    >>> round(float(W.var() * 256), 1)
    2.0
    """
    if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale >= 0):
        raise ConfigError(f"scale must be a finite number >= 0, got {scale!r}")
    if mode not in MODES:
        raise ConfigError(f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    if distribution not in DISTRIBUTIONS:
        raise ConfigError(
            f"unknown distribution {distribution!r}; choose one of: {', '.join(DISTRIBUTIONS)}"
        )

    def variance(fan_in: int, fan_out: int) -> float:
        return scale / max(_fan(mode, fan_in, fan_out), 1)

    def init(rng: Rng, shape, dtype) -> np.ndarray:
        return _draw(rng, shape, dtype, variance(*_fans(shape)), distribution)

    label = name or f"variance_scaling({scale}, {mode}, {distribution})"
    return Initializer(
        label,
        init,
        f"Var[W] = {scale} / {mode}",
        scale,
        mode,
        distribution,
        variance_fn=variance,
    )


def _he_variance(fan_in: int, fan_out: int, a: float = 0.0) -> float:
    """He et al. (2015), eq. (15): ``Var[W] = 2 / ((1 + a^2) fan_in)``, ``a`` a leaky slope."""
    return 2.0 / (1.0 + a * a) / max(fan_in, 1)


def _he(distribution: str) -> Callable[..., np.ndarray]:
    def init(rng: Rng, shape, dtype, a: float = 0.0) -> np.ndarray:
        return _draw(rng, shape, dtype, _he_variance(*_fans(shape), a), distribution)

    return init


def _zeros(rng, shape, dtype):
    return np.zeros(shape, dtype=dtype)


def _random(rng, shape, dtype, std=1.0):
    return _standard_normal(rng, shape, dtype) * dtype.type(std)


def _orthogonal(rng, shape, dtype, gain=1.0):
    """Orthogonal matrices (Saxe et al. 2013), as ``torch.nn.init.orthogonal_``.

    Each trailing ``(fan_in, fan_out)`` matrix has orthonormal columns (or rows,
    when wider than tall), from the QR decomposition of a Gaussian matrix with
    the signs of ``diag(R)`` folded in so the result is Haar-distributed.
    """
    fan_in, fan_out = _fans(shape)
    lead = shape[:-2]
    rows, cols = max(fan_in, fan_out), min(fan_in, fan_out)
    a = rng.standard_normal(size=lead + (rows, cols))
    q, r = np.linalg.qr(a)
    d = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    d[d == 0] = 1
    q = q * d[..., None, :]
    if fan_in < fan_out:
        q = np.swapaxes(q, -1, -2)
    return (gain * q).astype(dtype, copy=False)


REGISTRY: Registry[Initializer] = Registry("initializer", "initlab.initializers")


def register(init: Initializer, aliases: tuple[str, ...] = ()) -> Initializer:
    """Make the weight initializer ``init`` known by its name (and ``aliases``) everywhere.

    It must say its variance (``variance_fn``), which diagnostics and the
    mean-field theory read; every registered initializer is tested against
    the variance of what it draws.
    """
    if init.variance_fn is None:
        raise ConfigError(f"initializer {init.name!r} needs a variance_fn(fan_in, fan_out)")
    REGISTRY.register(init.name, init, aliases=aliases, description=init.description)
    return init


register(
    Initializer(
        "zeros",
        _zeros,
        "all weights 0: hidden units stay identical (symmetry)",
        variance_fn=lambda fan_in, fan_out: 0.0,
    )
)
register(
    Initializer(
        "random",
        _random,
        "N(0, 1) whatever the width (the blog's 'random')",
        params={"std": 1.0},
        variance_fn=lambda fan_in, fan_out, std: std**2,
    ),
    aliases=("normal", "randn"),
)
for _name, _scale, _mode, _dist, _aliases, _doc in [
    (
        "lecun_normal",
        1.0,
        "fan_in",
        "normal",
        ("lecun",),
        "N(0, 1/fan_in) (LeCun 1998; the blog's 'xavier')",
    ),
    ("lecun_uniform", 1.0, "fan_in", "uniform", (), "U(+-sqrt(3/fan_in)) (LeCun 1998)"),
    (
        "xavier_normal",
        1.0,
        "fan_avg",
        "normal",
        ("xavier", "glorot", "glorot_normal"),
        "N(0, 2/(fan_in+fan_out)) (Glorot & Bengio 2010)",
    ),
    (
        "xavier_uniform",
        1.0,
        "fan_avg",
        "uniform",
        ("glorot_uniform",),
        "U(+-sqrt(6/(fan_in+fan_out))), Glorot's normalized init",
    ),
]:
    _init = variance_scaling(_scale, _mode, _dist, name=_name)
    register(replace(_init, description=_doc), aliases=_aliases)
# He: variance scaling with scale 2 / (1 + a^2) on the fan-in, ``a`` the negative slope of
# the leaky ReLU that follows (0: ReLU), as torch.nn.init.kaiming_normal_(a=...)
for _name, _dist, _aliases, _doc in [
    (
        "he_normal",
        "normal",
        ("he", "kaiming", "kaiming_normal"),
        "N(0, 2/((1+a^2) fan_in)) (He et al. 2015), for (leaky) ReLU; a = 0",
    ),
    (
        "he_uniform",
        "uniform",
        ("kaiming_uniform",),
        "U(+-sqrt(6/((1+a^2) fan_in))) (He et al. 2015), for (leaky) ReLU; a = 0",
    ),
]:
    register(
        Initializer(
            _name,
            _he(_dist),
            _doc,
            None,  # the scale is 2 / (1 + a^2): variance_fn gives it
            "fan_in",
            _dist,
            params={"a": 0.0},
            variance_fn=_he_variance,
        ),
        aliases=_aliases,
    )


def _orthogonal_variance(fan_in: int, fan_out: int, gain: float) -> float:
    # gain times a (semi-)orthogonal matrix: unit rows or columns, E[W_ij^2] = 1 / max(fans)
    return gain**2 / max(fan_in, fan_out)


register(
    Initializer(
        "orthogonal",
        _orthogonal,
        "random orthogonal matrix times gain (Saxe 2013)",
        params={"gain": 1.0},
        variance_fn=_orthogonal_variance,
    ),
    aliases=("ortho",),
)
register(
    Initializer(
        "lsuv",
        _orthogonal,
        "orthogonal, then each layer rescaled to unit output variance on data (Mishkin 2015)",
        data_dependent=True,
        params={"gain": 1.0},
        # each layer's scale is set from the data, so no fan alone gives the variance
        variance_fn=lambda fan_in, fan_out, gain: math.nan,
    ),
)


# --- biases ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class BiasInitializer:
    """A named bias initializer: ``init(rng, shape, dtype) -> array``."""

    name: str
    fn: Callable[..., np.ndarray]
    description: str = ""
    params: Mapping[str, object] = field(default_factory=dict)

    def __call__(self, rng: Rng, shape: tuple[int, ...], dtype=np.float64) -> np.ndarray:
        return self.fn(rng, tuple(shape), np.dtype(dtype), **self.params)

    def bind(self, **params) -> BiasInitializer:
        check_params("bias initializer", self.name, params, self.params)
        return replace(self, params={**self.params, **params})


BIAS_REGISTRY: Registry[BiasInitializer] = Registry("bias initializer", "initlab.initializers")
BIAS_REGISTRY.register(
    "zeros", BiasInitializer("zeros", _zeros, "b = 0 (default)"), description="b = 0 (default)"
)
BIAS_REGISTRY.register(
    "ones",
    BiasInitializer("ones", lambda rng, s, d: np.ones(s, dtype=d), "b = 1"),
    description="b = 1",
)
BIAS_REGISTRY.register(
    "normal",
    BiasInitializer(
        "normal", _random, "b ~ N(0, std^2), std 1 (the blog's biases)", params={"std": 1.0}
    ),
    aliases=("random", "randn"),
    description="b ~ N(0, std^2), std 1 (the blog's biases)",
)
BIAS_REGISTRY.register(
    "constant",
    BiasInitializer(
        "constant",
        lambda rng, s, d, value=0.0: np.full(s, value, dtype=d),
        "b = value",
        params={"value": 0.0},
    ),
    description="b = value",
)


def get(name: str | Initializer, **params) -> Initializer:
    """The weight initializer called ``name`` (case-insensitive, aliases allowed)."""
    init = name if isinstance(name, Initializer) else REGISTRY.get(name)
    return init.bind(**params) if params else init


def get_bias(name: str | BiasInitializer, **params) -> BiasInitializer:
    """The bias initializer called ``name``: zeros, ones, normal or constant."""
    init = name if isinstance(name, BiasInitializer) else BIAS_REGISTRY.get(name)
    return init.bind(**params) if params else init


def names() -> list[str]:
    return REGISTRY.names()


def bias_names() -> list[str]:
    return BIAS_REGISTRY.names()
