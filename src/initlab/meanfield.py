"""Mean-field signal propagation: order, chaos and the edge between them.

For a wide feedforward network with weights ``W_ij ~ N(0, sigma_w^2 / n_in)`` and
biases ``b_i ~ N(0, sigma_b^2)``, the pre-activations of a layer are Gaussian in the
limit of infinite width, and three one-dimensional maps describe what happens to a
signal as it travels through the layers (Poole et al., 2016; Schoenholz et al., 2017):

* the **variance map** ``q -> sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`` and its
  fixed point ``q*`` (the squared length every input settles to);
* the **correlation map** ``c -> (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*``
  between two inputs, which always has the fixed point ``c = 1``;
* its slope at ``c = 1``, ``chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]``, which is also the
  factor by which the squared gradient norm changes per layer.  ``chi_1 < 1`` is the
  *ordered* phase (inputs become alike, gradients vanish), ``chi_1 > 1`` the *chaotic*
  phase (nearby inputs decorrelate, gradients explode) and ``chi_1 = 1`` the
  **edge of chaos**, where information travels deepest.

Every expectation over ``z ~ N(0, 1)`` is computed by Gaussian quadrature split at
``z = 0``, where every rectifier has its kink: Gauss-Legendre with ``order / 2`` nodes on
each half-line ``[0, 12]`` (200 nodes in all by default), agreeing with adaptive
quadrature to about 1e-13 for every registered activation and ``q`` from 0.01 to 100.
The 2-D expectations of the correlation map are taken in polar coordinates, with the
angle split at the four rays where ``u1`` or ``u2`` changes sign.  (Plain Gauss-Hermite,
``numpy.polynomial.hermite_e.hermegauss``, misses by up to 3e-3 for SELU and ReLU kernels
and by far more for ``tanh`` at large ``q``.)

Everything accepts an activation name (``"tanh"``) or an
:class:`~initlab.activations.Activation` object, including ones you build yourself.

References
----------
B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli (2016), "Exponential
expressivity in deep neural networks through transient chaos", NeurIPS.

S. S. Schoenholz, J. Gilmer, S. Ganguli and J. Sohl-Dickstein (2017), "Deep information
propagation", ICLR.

Examples
--------
>>> from initlab import meanfield
>>> round(meanfield.chi1("relu", 2.0), 12)          # He init is critical for ReLU
1.0
>>> round(meanfield.critical_sigma_w2("tanh", 0.05), 3)
1.761
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import optimize

from . import activations, initializers
from .activations import Activation
from .errors import ConfigError

__all__ = [
    "DEFAULT_ORDER",
    "PhaseDiagram",
    "variance_map",
    "fixed_point",
    "chi1",
    "correlation_map",
    "correlation_fixed_point",
    "correlation_depth_scale",
    "gradient_depth_scale",
    "critical_sigma_w2",
    "edge_of_chaos",
    "EdgeOfChaos",
    "Jump",
    "NoEdgeOfChaos",
    "initializers_for",
    "phase_diagram",
    "named_init_sigma_w2",
    "init_names",
]

#: Quadrature nodes for a 1-D expectation, half on each side of the kink at z = 0.
DEFAULT_ORDER = 200

# The variance map is declared divergent once q exceeds this multiple of the larger of
# 1, q0 and sigma_b^2 (a finite fixed point is at most a few times sigma_b^2 / (1 - slope)).
_DIVERGENCE_FACTOR = 1e10

# Plain iterations of the variance map before bracketing takes over (fast away from a
# critical point: the error shrinks by V'(q*) per layer, typically 0.5 or less).
_MAX_ITER = 50

# |chi - 1| below this is rounding error of the quadrature: the depth scale is infinite.
_CRITICAL_TOL = 1e-13

# Variances below this are treated as 0 (a collapse toward q* = 0 is declared there rather
# than followed into subnormal numbers, where rounding fakes convergence).
_Q_FLOOR = 1e-100

# Relative weight the outermost quadrature nodes may carry before we conclude the
# integrand grows too fast for E[.] to be finite (or for the rule to resolve it).
_TAIL_TOL = 1e-8

ActivationLike = str | Activation


# --- quadrature ------------------------------------------------------------------------------
# Every kink of a registered activation (ReLU, leaky ReLU, ELU, SELU) sits at z = 0, so each
# half-line is integrated separately by Gauss-Legendre on [0, _Z_MAX]: the integrand is
# smooth on each piece and the rule converges exponentially.  (Gauss-Hermite over the whole
# line, hermegauss, was 3e-3 off for E[selu'(z)^2] with 200 nodes, 1e-3 off for the ReLU
# arc-cosine kernel, and 60 % off for E[tanh'(10 z)^2]; this rule is within 1e-13 of
# adaptive quadrature for all of them.)
_Z_MAX = 12.0  # N(0, 1) puts 2e-33 of its mass beyond 12


@functools.lru_cache(maxsize=8)
def _rule(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes ``x``, weights ``w`` (summing to 1 - 2e-33) and an "outer node" mask for N(0, 1)."""
    if isinstance(order, bool) or not isinstance(order, int | np.integer) or order < 4 or order % 2:
        raise ValueError(
            f"order must be an even integer >= 4 (order / 2 Gauss nodes on each half-line, "
            f"split at the kink of a rectifier at z = 0), got {order!r}"
        )
    t, v = np.polynomial.legendre.leggauss(int(order) // 2)
    z = _Z_MAX * (t + 1.0) / 2.0
    v = v * _Z_MAX / 2.0 * np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    x, w = np.concatenate([-z[::-1], z]), np.concatenate([v[::-1], v])
    outer = np.abs(x) > 0.75 * _Z_MAX
    for arr in (x, w, outer):
        arr.setflags(write=False)
    return x, w, outer


@functools.lru_cache(maxsize=8)
def _radial_rule(order: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights for ``int_0^inf g(r) r exp(-r^2 / 2) dr``."""
    _rule(order)  # validates
    t, v = np.polynomial.legendre.leggauss(int(order) // 2)
    r = _Z_MAX * (t + 1.0) / 2.0
    v = v * _Z_MAX / 2.0 * r * np.exp(-0.5 * r * r)
    return r, v


def _evaluate(fn: Callable[[np.ndarray], np.ndarray], u: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):  # overflow is reported below as a ValueError
        return np.asarray(fn(u), dtype=float)


def _expect(values, weights, outer, act, what: str, node_axes: int = 1):
    """Sum ``weights * values`` over the trailing node axes, refusing non-finite moments."""
    axes = tuple(range(-node_axes, 0))
    with np.errstate(all="ignore"):
        terms = weights * values
        total = np.sum(terms, axis=axes)
        tail = np.sum(np.abs(terms) * outer, axis=axes)
        scale = np.sum(np.abs(terms), axis=axes)
    bad = ~np.isfinite(total) | ~np.isfinite(scale) | (tail > _TAIL_TOL * scale)
    if np.any(bad):
        raise ValueError(
            f"activation {act.name!r}: {what} is not finite (or phi grows too fast for the "
            f"quadrature to resolve it); phi has no mean-field behaviour here"
        )
    return total


def _second_moment(act: Activation, q: np.ndarray, order: int, deriv: bool = False):
    """``E[phi(sqrt(q) z)^2]`` (or of ``phi'``) for each entry of ``q``."""
    x, w, outer = _rule(order)
    u = np.sqrt(np.asarray(q, dtype=float))[..., None] * x
    with np.errstate(all="ignore"):
        vals = _evaluate(act.grad if deriv else act, u) ** 2
    name = "E[phi'(sqrt(q) z)^2]" if deriv else "E[phi(sqrt(q) z)^2]"
    return _expect(vals, w, outer, act, name)


def _cross_moment(act: Activation, c: np.ndarray, q: float, order: int, deriv: bool = False):
    """``E[f(u1) f(u2)]`` with ``f = phi`` (or ``phi'``), ``u = sqrt(q) (z1, c z1 + s z2)``.

    In polar coordinates ``(z1, z2) = r (cos t, sin t)`` we have ``u1 = sqrt(q) r cos t``
    and ``u2 = sqrt(q) r cos(t - t_c)`` with ``cos t_c = c``, so the kinks at ``u = 0``
    are four rays.  The angle is integrated by Gauss-Legendre on the four sectors between
    them, the radius by :func:`_radial_rule`.
    """
    r, wr = _radial_rule(order)
    t, v = np.polynomial.legendre.leggauss(max(int(order) // 4, 8))
    c = np.asarray(c, dtype=float)
    t_c = np.arccos(np.clip(c, -1.0, 1.0))[..., None]
    cuts = np.sort(np.mod(t_c + np.array([0.5, 1.5]) * np.pi, 2 * np.pi), axis=-1)
    cuts = np.sort(
        np.concatenate([cuts, np.broadcast_to([0.5 * np.pi, 1.5 * np.pi], cuts.shape)], -1), -1
    )
    lo = cuts
    hi = np.concatenate([cuts[..., 1:], cuts[..., :1] + 2 * np.pi], axis=-1)
    theta = (lo[..., None] + (hi - lo)[..., None] * (t + 1.0) / 2.0).reshape(*c.shape, -1)
    w_theta = ((hi - lo)[..., None] * v / 2.0).reshape(*c.shape, -1) / (2.0 * np.pi)
    rq = math.sqrt(q) * r  # (n_r,)
    fn = act.grad if deriv else act
    u1 = np.cos(theta)[..., :, None] * rq
    u2 = np.cos(theta - t_c)[..., :, None] * rq
    with np.errstate(all="ignore"):
        vals = _evaluate(fn, u1) * _evaluate(fn, u2)
    weights = w_theta[..., :, None] * wr
    outer = np.broadcast_to(r > 0.75 * _Z_MAX, weights.shape)
    name = "E[phi'(u1) phi'(u2)]" if deriv else "E[phi(u1) phi(u2)]"
    return _expect(vals, weights, outer, act, name, node_axes=2)


# --- validation ------------------------------------------------------------------------------
def _act(activation: ActivationLike) -> Activation:
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        return activations.get(activation)
    raise TypeError(
        f"activation must be a name or an Activation, got {type(activation).__name__} "
        f"{activation!r}; choose one of: {', '.join(activations.names())}"
    )


def _nonneg(name: str, value, *, allow_inf: bool = False) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number >= 0, got {value!r}") from None
    ok = ~np.isnan(arr) & (arr >= 0) & (allow_inf | np.isfinite(arr))
    if not np.all(ok):
        bad = arr[~ok].ravel()[0] if arr.ndim else arr
        raise ValueError(f"{name} must be a finite number >= 0, got {float(bad)!r}")
    return arr


def _out(arr):
    """A Python float for 0-d results, the array otherwise."""
    arr = np.asarray(arr, dtype=float)
    return float(arr) if arr.ndim == 0 else arr


# --- the variance map and its fixed point ----------------------------------------------------
def variance_map(q, sigma_w2, sigma_b2, activation: ActivationLike, *, order: int = DEFAULT_ORDER):
    """One layer of the length (variance) map of a wide random network.

    Poole et al. (2016), eq. (3)::

        q^{l+1} = sigma_w^2 E_z[phi(sqrt(q^l) z)^2] + sigma_b^2,   z ~ N(0, 1),

    where ``q^l`` is the variance of a unit's pre-activation in layer ``l`` (the mean
    squared length of the pre-activation vector divided by the width).  Also known as
    the *length map* or *variance propagation*.

    Parameters
    ----------
    q : float or array_like
        Pre-activation variance entering the layer, ``>= 0``.
    sigma_w2, sigma_b2 : float or array_like
        Weight variance times fan-in, ``n_in Var[W]``, and bias variance.  All three
        broadcast, so one call evaluates a whole grid.
    activation : str or Activation
    order : int
        Even number of quadrature nodes (half on each side of 0).

    Returns
    -------
    float or ndarray
        ``q^{l+1}``.

    Examples
    --------
    >>> round(variance_map(3.0, 2.0, 0.1, "linear"), 12)   # 2 * 3 + 0.1
    6.1
    >>> round(variance_map(1.0, 2.0, 0.0, "relu"), 12)     # E[relu(z)^2] = 1/2
    1.0
    """
    act = _act(activation)
    q = _nonneg("q", q)
    sw = _nonneg("sigma_w2", sigma_w2)
    sb = _nonneg("sigma_b2", sigma_b2)
    return _out(sw * _second_moment(act, q, order) + sb)


def _solve_q(act, sw, sb, q0, tol, max_iter, order):
    """Fixed points of the variance map for 1-D arrays ``sw``, ``sb`` (one per network).

    Returns ``(q_star, q_eval)``; ``q_star`` is ``inf`` where ``q`` blows up and
    ``q_eval`` is then the (huge) variance at which the blow-up was declared, used to
    evaluate limits such as chi_1 (exact for positively homogeneous phi); where
    ``q_star == 0``, ``q_eval`` is the tiny ``_Q_FLOOR`` (the limit q -> 0+).
    """
    sw = np.asarray(sw, dtype=float).ravel()
    sb = np.broadcast_to(np.asarray(sb, dtype=float), sw.shape).ravel()
    n = sw.size
    cap = _DIVERGENCE_FACTOR * np.maximum(max(1.0, q0), sb)
    v0 = sw * _evaluate(act, np.zeros(1))[0] ** 2 + sb  # V(0)
    q = np.full(n, float(q0))
    result = np.full(n, np.nan)
    todo = np.arange(n)
    # 1. Plain iteration, as the layers do: it picks the fixed point reached from q0.
    for _ in range(max_iter):
        if todo.size == 0:
            break
        qn = sw[todo] * _second_moment(act, q[todo], order) + sb[todo]
        diverged = qn > cap[todo]
        converged = (np.abs(qn - q[todo]) <= tol * qn) & (qn > _Q_FLOOR)
        collapsed = (qn <= _Q_FLOOR) & (v0[todo] == 0.0)  # geometric decay to q* = 0
        converged |= collapsed
        result[todo[diverged]] = np.inf
        result[todo[converged & ~diverged]] = qn[converged & ~diverged]
        result[todo[collapsed]] = 0.0
        q[todo] = qn
        todo = todo[~(diverged | converged)]
    # 2. Slow convergence (near a critical point it is algebraic, not geometric): bracket
    #    the fixed point in the direction the iteration moves and solve V(q) = q.
    for i in todo:
        result[i] = _bracket_q(act, sw[i], sb[i], q[i], tol, cap[i], order)
    # Limits are evaluated just inside the range: q -> 0+ (where a kinked phi such as ReLU
    # still has E[phi'^2] = 1/2, not phi'(0)^2 = 0) and q -> inf.
    q_eval = np.where(np.isinf(result), cap, np.maximum(result, _Q_FLOOR))
    return result, q_eval


def _bracket_q(act, sw, sb, q, tol, cap, order):
    def g(x):
        return float(sw * _second_moment(act, np.asarray(x), order) + sb - x)

    def root(lo, hi):
        return optimize.brentq(g, lo, hi, xtol=1e-300, rtol=max(tol, 1e-15), maxiter=500)

    gq = g(q)
    if gq == 0.0:
        return q
    if gq > 0.0:  # the iteration climbs: the next root above q, or divergence
        lo, hi = q, max(2.0 * q, 1e-300)
        while g(hi) > 0.0:
            lo, hi = hi, 2.0 * hi
            if hi > cap:
                return np.inf
        return root(lo, hi)
    hi = q  # the iteration descends: the next root below q
    while hi > _Q_FLOOR:
        lo = hi * 1e-3  # a coarse scan; Brent refines
        glo = g(lo)
        if glo == 0.0:
            return lo
        if glo > 0.0:
            return root(lo, hi)
        hi = lo
    g0 = g(0.0)  # V(0) = sigma_w^2 phi(0)^2 + sigma_b^2
    return 0.0 if g0 <= 0.0 else root(0.0, hi)


def fixed_point(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    q0: float = 1.0,
    tol: float = 1e-12,
    max_iter: int = 50,
    *,
    order: int = DEFAULT_ORDER,
) -> float:
    """Fixed point ``q*`` of the variance map, the length every input settles to.

    Poole et al. (2016), eq. (4): ``q* = sigma_w^2 E[phi(sqrt(q*) z)^2] + sigma_b^2``,
    the limit of :func:`variance_map` iterated from ``q0`` (the input's variance).

    The map is iterated up to ``max_iter`` times (until the relative change is below
    ``tol``); where it converges only slowly, as it does near a critical point, the root
    of ``V(q) - q`` is bracketed on the side the iteration moves toward and found by
    Brent's method (this assumes ``V`` is non-decreasing in ``q``, true for every
    registered activation).

    * With ``sigma_b^2 = 0`` and ``phi(0) = 0`` the collapse ``q* = 0`` is reported as
      exactly ``0.0`` (tanh with ``sigma_w^2 <= 1``, for example).
    * If ``q`` grows without bound, ``inf`` is returned: a linear network with
      ``sigma_w^2 > 1`` (or ``= 1`` with ``sigma_b^2 > 0``), ReLU with
      ``sigma_w^2 > 2``.  Bounded activations never diverge.

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
        ``n_in Var[W]`` and ``Var[b]``, finite and ``>= 0``.
    q0 : float
        Starting variance (a unit-variance input by default).
    tol : float
        Relative tolerance on ``q*``.
    max_iter : int
        Plain iterations before switching to the bracketing root finder.
    order : int
        Even number of quadrature nodes (half on each side of 0).

    Returns
    -------
    float
        ``q*`` (``0.0``, positive, or ``inf``).

    Examples
    --------
    >>> round(fixed_point("linear", 0.5, 1.0), 9)   # q* = sigma_b^2 / (1 - sigma_w^2)
    2.0
    >>> fixed_point("tanh", 0.8)           # ordered, no bias: everything shrinks to 0
    0.0
    >>> fixed_point("relu", 3.0)
    inf
    """
    act = _act(activation)
    sw = float(_nonneg("sigma_w2", sigma_w2))
    sb = float(_nonneg("sigma_b2", sigma_b2))
    q0 = float(_nonneg("q0", q0))
    if not (tol > 0) or max_iter < 1:
        raise ValueError(f"tol must be > 0 and max_iter >= 1, got tol={tol!r}, {max_iter=}")
    q_star, _ = _solve_q(act, [sw], [sb], q0, tol, max_iter, order)
    return float(q_star[0])


def chi1(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    q: float | None = None,
    *,
    q0: float = 1.0,
    order: int = DEFAULT_ORDER,
) -> float:
    """The order parameter ``chi_1``: slope of the correlation map at ``c = 1``.

    Poole et al. (2016), eq. (7); Schoenholz et al. (2017), eq. (5)::

        chi_1 = sigma_w^2 E_z[phi'(sqrt(q*) z)^2].

    ``chi_1 < 1``: ordered phase (nearby inputs converge, gradients vanish);
    ``chi_1 > 1``: chaotic phase (nearby inputs diverge, gradients explode);
    ``chi_1 = 1``: the edge of chaos.  It is also the mean factor by which the squared
    gradient norm is multiplied per layer of backpropagation (Schoenholz eq. 12).

    Parameters
    ----------
    activation : str or Activation
    sigma_w2, sigma_b2 : float
    q : float, optional
        Variance at which to evaluate; by default the fixed point :func:`fixed_point`
        reached from ``q0``.  If ``q*`` is infinite the limit is taken (evaluated at the
        divergence scale, exact for ReLU, leaky ReLU and linear, whose ``chi_1`` does not
        depend on ``q``); ``q = 0`` likewise means the limit ``q -> 0+`` (``phi'(0)^2``
        for smooth phi, ``sigma_w^2 / 2`` for ReLU rather than ``relu'(0) = 0``).
    q0 : float
        The input variance the variance map starts from (when ``q`` is not given).
        It matters where the map has several attractors: for GELU, SiLU and mish
        without bias the nonzero fixed point is unstable, and inputs below it collapse
        to ``q* = 0`` while inputs above it explode.
    order : int

    Examples
    --------
    >>> round(chi1("tanh", 0.7), 12)   # q* = 0 and tanh'(0) = 1
    0.7
    >>> round(chi1("relu", 3.0), 12)   # sigma_w^2 / 2 at any q
    1.5
    """
    act = _act(activation)
    sw = float(_nonneg("sigma_w2", sigma_w2))
    sb = float(_nonneg("sigma_b2", sigma_b2))
    if q is None:
        _, q_eval = _solve_q(act, [sw], [sb], float(_nonneg("q0", q0)), 1e-12, _MAX_ITER, order)
        q = float(q_eval[0])
    q = max(float(_nonneg("q", q)), _Q_FLOOR)  # q = 0 means the limit q -> 0+
    return float(sw * _second_moment(act, np.asarray(q), order, deriv=True))


# --- the correlation map ---------------------------------------------------------------------
def _q_for_correlation(act, q, sw, sb, order) -> float:
    if q is None:
        q_star, q_eval = _solve_q(act, [sw], [sb], 1.0, 1e-12, _MAX_ITER, order)
        q = float(q_eval[0])
        if q_star[0] == 0.0:
            raise ValueError(
                f"activation {act.name!r} at sigma_w2={sw}, sigma_b2={sb}: q* = 0, every "
                f"input collapses to the same point and the correlation is undefined"
            )
    q = float(_nonneg("q", q))
    if q == 0.0:
        raise ValueError("q must be > 0 for the correlation map (it divides by q)")
    return q


def correlation_map(
    c,
    q,
    sigma_w2: float,
    sigma_b2: float,
    activation: ActivationLike,
    *,
    order: int = DEFAULT_ORDER,
):
    """One layer of the correlation map between two inputs of equal length ``q*``.

    Poole et al. (2016), eq. (5)::

        c^{l+1} = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*,
        u1 = sqrt(q*) z1,   u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2),

    with ``z1, z2`` independent standard normals (2-D rule in polar coordinates).
    ``c = 1`` is always a fixed point and the slope there is :func:`chi1`.

    Parameters
    ----------
    c : float or array_like
        Correlation in ``[-1, 1]``.
    q : float or None
        The variance both inputs have reached, normally ``q*`` (``None`` computes it;
        ``c = 1`` is a fixed point only at ``q = q*``).
    sigma_w2, sigma_b2 : float
    activation : str or Activation
    order : int

    Examples
    --------
    >>> round(correlation_map(1.0, None, 1.5, 0.1, "tanh"), 10)
    1.0
    >>> round(correlation_map(0.3, 1.0, 1.0, 0.0, "linear"), 12)   # linear: identity
    0.3
    """
    act = _act(activation)
    sw = float(_nonneg("sigma_w2", sigma_w2))
    sb = float(_nonneg("sigma_b2", sigma_b2))
    c = np.asarray(c, dtype=float)
    if not np.all((c >= -1.0) & (c <= 1.0)):
        raise ValueError(f"correlation c must lie in [-1, 1], got {c.tolist()!r}")
    q = _q_for_correlation(act, q, sw, sb, order)
    return _out((sw * _cross_moment(act, c, q, order) + sb) / q)


def correlation_fixed_point(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    *,
    q0: float = 1.0,
    order: int = DEFAULT_ORDER,
) -> float:
    """The stable fixed point ``c*`` of the correlation map.

    ``c* = 1`` in the ordered phase (``chi_1 <= 1``) and where ``q* = 0`` (all inputs
    collapse).  In the chaotic phase ``c = 1`` repels and ``c* < 1`` is the largest
    root of ``C(c) = c`` below 1 (the one the iteration from nearly equal inputs falls
    into), found by a scan down from ``c = 1`` and Brent's method.  Poole et al. (2016),
    Fig. 2; for odd phi without bias ``c* = 0``.

    Examples
    --------
    >>> correlation_fixed_point("tanh", 0.9)
    1.0
    >>> abs(correlation_fixed_point("tanh", 4.0)) < 1e-9
    True
    """
    act = _act(activation)
    sw = float(_nonneg("sigma_w2", sigma_w2))
    sb = float(_nonneg("sigma_b2", sigma_b2))
    q0 = float(_nonneg("q0", q0))
    q_star, q_eval = _solve_q(act, [sw], [sb], q0, 1e-12, _MAX_ITER, order)
    q = float(q_eval[0])
    if q_star[0] == 0.0 or sw * _second_moment(act, np.asarray(q), order, deriv=True) <= 1.0:
        return 1.0
    grid = np.concatenate([np.linspace(-1.0, 0.9, 20), 1.0 - np.geomspace(0.09, 1e-8, 30)])
    gaps = (sw * _cross_moment(act, grid, q, order) + sb) / q - grid
    if gaps[-1] >= 0.0:  # indistinguishable from criticality at this resolution
        return 1.0
    neg = np.nonzero(gaps >= 0.0)[0]
    if neg.size == 0:
        return -1.0
    k = int(neg[-1])

    def gap(x):
        return float((sw * _cross_moment(act, np.asarray(x), q, order) + sb) / q - x)

    if gaps[k] == 0.0:
        return float(grid[k])
    return float(optimize.brentq(gap, grid[k], grid[k + 1], xtol=1e-14, rtol=1e-13))


def _chi_c(act, sw, sb, q0, order) -> float:
    c_star = correlation_fixed_point(act, sw, sb, q0=q0, order=order)
    _, q_eval = _solve_q(act, [sw], [sb], q0, 1e-12, _MAX_ITER, order)
    q = float(q_eval[0])
    if c_star == 1.0:
        return float(sw * _second_moment(act, np.asarray(q), order, deriv=True))
    return float(sw * _cross_moment(act, np.asarray(c_star), q, order, deriv=True))


def _depth(chi: float) -> float:
    if abs(chi - 1.0) <= _CRITICAL_TOL:
        return math.inf
    if chi == 0.0:
        return 0.0
    return -1.0 / math.log(chi)


def correlation_depth_scale(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    *,
    q0: float = 1.0,
    order: int = DEFAULT_ORDER,
) -> float:
    """Depth ``xi_c`` over which the correlation between two inputs is forgotten.

    Schoenholz et al. (2017), eq. (9): ``|c^l - c*| ~ exp(-l / xi_c)`` with::

        xi_c = -1 / log(chi_c),   chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]  at c = c*,

    where ``c*`` is :func:`correlation_fixed_point`.  In the ordered phase ``c* = 1``
    and ``chi_c = chi_1``; in the chaotic phase ``chi_c < 1`` at ``c* < 1``.  ``xi_c``
    diverges at the edge of chaos, so networks of depth ``L`` are trainable only where
    ``L`` is below a few ``xi_c`` (Schoenholz et al. find about ``6 xi_c``).

    Returns
    -------
    float
        ``xi_c`` in layers, ``inf`` at criticality.

    Examples
    --------
    >>> round(correlation_depth_scale("tanh", 0.5), 4)    # -1 / log(0.5)
    1.4427
    """
    act = _act(activation)
    sw = float(_nonneg("sigma_w2", sigma_w2))
    sb = float(_nonneg("sigma_b2", sigma_b2))
    chi = _chi_c(act, sw, sb, float(_nonneg("q0", q0)), order)
    return math.inf if chi >= 1.0 - _CRITICAL_TOL else _depth(chi)


def gradient_depth_scale(
    activation: ActivationLike,
    sigma_w2: float,
    sigma_b2: float = 0.0,
    *,
    q0: float = 1.0,
    order: int = DEFAULT_ORDER,
) -> float:
    """Depth ``xi_grad`` over which gradients vanish or explode.

    Schoenholz et al. (2017), eq. (13): the squared gradient norm changes by ``chi_1``
    per layer, ``||grad_l||^2 ~ exp(-(L - l) / xi_grad)``, with::

        xi_grad = -1 / log(chi_1).

    Ordered phase (``chi_1 < 1``): ``xi_grad > 0`` is the number of layers over which
    gradients shrink by ``e``.  Chaotic phase (``chi_1 > 1``): ``xi_grad < 0``, as in
    the paper, and ``|xi_grad|`` is the number of layers over which they *grow* by ``e``.
    ``inf`` at ``chi_1 = 1``.

    Examples
    --------
    >>> round(gradient_depth_scale("relu", 1.0), 4)   # chi_1 = 1/2
    1.4427
    >>> gradient_depth_scale("relu", 4.0) < 0           # exploding
    True
    """
    return _depth(chi1(activation, sigma_w2, sigma_b2, q0=q0, order=order))


# --- the edge of chaos -----------------------------------------------------------------------
# Points of the scan for sign changes of chi_1 - 1, geometric over the bracket: 200 points put
# neighbours 4.7 % apart on the default bracket [0.01, 100] (two crossings closer than that
# would cancel; none of the registered activations comes near).
_SCAN_POINTS = 200

# A sign change of chi_1 - 1 narrowed to a bracket of width xtol is a jump when chi_1 still
# differs across it by more than _JUMP_TOL and by more than half of what it differed across a
# bracket 2^_JUMP_HALVINGS times wider: a jump does not shrink with the bracket, a continuous
# chi_1 does (linearly for tanh, as the cube root of the width for softplus at sigma_b^2 = 0,
# whose q* grows without bound toward sigma_w^2 = 2).  The jumps of GELU, SiLU and mish are
# 0.05 or more.
_JUMP_TOL = 1e-6
_JUMP_HALVINGS = 10

# One-sided limits of a jump are read this far (relative) on either side of it, where the
# input is clearly in one basin or the other.
_JUMP_SIDE = 1e-6


class NoEdgeOfChaos(ConfigError):
    """There is no edge of chaos to return; ``edge`` is the :class:`EdgeOfChaos` that says why."""

    def __init__(self, edge: EdgeOfChaos):
        super().__init__(edge.reason(), field="activation")
        self.edge = edge


class Jump(NamedTuple):
    """A discontinuity of ``chi_1`` across 1 at ``sigma_w2`` (located to ``xtol``).

    ``q_star_below`` and ``q_star_above`` are the fixed points reached on either side:
    the variance map has an unstable fixed point between two attractors there, and the
    one the input falls into changes.
    """

    sigma_w2: float
    chi1_below: float
    chi1_above: float
    q_star_below: float
    q_star_above: float


class EdgeOfChaos(NamedTuple):
    """The edge of chaos of an activation at one bias variance and input variance.

    ``sigma_w2`` is where ``chi_1`` -- evaluated at the stable fixed point the input of
    variance ``q0`` reaches -- crosses 1 continuously (NaN where it never does);
    ``q_star`` and ``chi1`` are their values there.  ``jumps`` lists the places in
    ``bracket`` where ``chi_1`` jumps across 1 instead.  :meth:`reason` says in words
    why there is no point.
    """

    activation: str
    sigma_b2: float
    q0: float
    sigma_w2: float
    q_star: float
    chi1: float
    jumps: tuple[Jump, ...]
    bracket: tuple[float, float]
    chi1_range: tuple[float, float]

    @property
    def found(self) -> bool:
        """Whether there is a continuous crossing (``sigma_w2`` is a number)."""
        return not math.isnan(self.sigma_w2)

    def reason(self) -> str:
        """Why there is no edge of chaos ("" when there is one)."""
        if self.found:
            return ""
        lo, hi = self.bracket
        where = (
            f"activation {self.activation!r} has no edge of chaos for sigma_w2 in "
            f"[{lo:g}, {hi:g}] at sigma_b2={self.sigma_b2:g} (input variance q0={self.q0:g})"
        )
        if not self.jumps:
            a, b = self.chi1_range
            return (
                f"{where}: chi_1 goes from {a:.4g} to {b:.4g} and never crosses 1 (widen "
                f"`bracket`, or this activation is never critical)"
            )
        jumps = "; ".join(
            f"at sigma_w2={j.sigma_w2:.6g} from {j.chi1_below:.4g} (q* = {_fmt_q(j.q_star_below)})"
            f" to {j.chi1_above:.4g} (q* = {_fmt_q(j.q_star_above)})"
            for j in self.jumps
        )
        return (
            f"{where}: chi_1 jumps across 1 {jumps}, and equals 1 at no stable fixed point. "
            f"The variance map has an unstable fixed point there, and the attractor the input "
            f"reaches switches from one side of it to the other; a larger sigma_b2 or another "
            f"q0 moves the transition"
        )


def _fmt_q(q: float) -> str:
    return "0" if q == 0 else ("inf" if math.isinf(q) else f"{q:.4g}")


def _chi1_reached(act, sw, sb, q0, order):
    """``(q*, chi_1)`` at the fixed point reached from ``q0``, for an array of ``sigma_w^2``."""
    sw = np.atleast_1d(np.asarray(sw, dtype=float))
    q_star, q_eval = _solve_q(act, sw, np.full(sw.shape, sb), q0, 1e-12, _MAX_ITER, order)
    return q_star, sw * _second_moment(act, q_eval, order, deriv=True)


def edge_of_chaos(
    activation: ActivationLike,
    sigma_b2: float = 0.0,
    *,
    q0: float = 1.0,
    bracket: tuple[float, float] = (1e-2, 1e2),
    order: int = DEFAULT_ORDER,
    xtol: float = 1e-10,
) -> EdgeOfChaos:
    """The edge of chaos, where ``chi_1`` at a stable fixed point crosses 1, or why there is none.

    Poole et al. (2016), Fig. 1 and Schoenholz et al. (2017), Fig. 1: the critical line
    ``chi_1(sigma_w^2, sigma_b^2) = 1`` between the ordered and the chaotic phase.  Here
    ``chi_1`` is evaluated where the layers take the signal: at the fixed point the
    variance map reaches from the input variance ``q0`` (a stable one, or ``q* = inf``
    where the signal explodes, with ``chi_1`` its large-``q`` limit; where every ``q``
    is a fixed point, as for ReLU at ``sigma_w^2 = 2``, at ``q0`` itself).

    ``sigma_w^2`` is scanned over ``bracket`` (200 geometric steps) for sign changes of
    ``chi_1 - 1``, and each is narrowed by bisection to a width of ``xtol``.  Where
    ``chi_1`` is continuous there, that is the edge of chaos.  Where it jumps -- GELU,
    SiLU and mish at small ``sigma_b^2``, whose nonzero fixed point is unstable, so that
    inputs below it collapse to ``q* = 0`` (``chi_1 < 1``) and inputs above it explode
    (``chi_1 > 1``) -- the jump is reported and not returned.

    Parameters
    ----------
    activation : str or Activation
    sigma_b2 : float
        Bias variance.
    q0 : float
        Variance of the input, where the variance map starts (1 for standardized data).
    bracket : (float, float)
        Range of ``sigma_w^2`` searched.
    order : int
        Quadrature nodes.
    xtol : float
        Width in ``sigma_w^2`` to which crossings are narrowed.

    Returns
    -------
    EdgeOfChaos
        ``.sigma_w2`` (NaN if none), ``.q_star``, ``.chi1``, ``.jumps``, ``.reason()``.

    Examples
    --------
    >>> round(edge_of_chaos("tanh", 0.05).sigma_w2, 3)
    1.761
    >>> gelu = edge_of_chaos("gelu")
    >>> gelu.found, round(gelu.jumps[0].sigma_w2, 3)
    (False, 2.352)
    >>> round(edge_of_chaos("gelu", 0.3).sigma_w2, 3)
    1.956
    """
    act = _act(activation)
    sb = float(_nonneg("sigma_b2", sigma_b2))
    q0 = float(_nonneg("q0", q0))
    try:
        lo, hi = (float(b) for b in bracket)
    except (TypeError, ValueError):
        lo, hi = math.nan, math.nan
    if not (0.0 <= lo < hi < math.inf):
        raise ConfigError(
            f"bracket must be (lo, hi) with 0 <= lo < hi < inf, got {bracket!r}", "bracket"
        )
    if not (xtol > 0):
        raise ConfigError(f"xtol must be > 0, got {xtol!r}", "xtol")
    grid = np.geomspace(max(lo, hi * 1e-6), hi, _SCAN_POINTS)
    if lo < grid[0]:
        grid = np.concatenate([[lo], grid])
    q_grid, chi_grid = _chi1_reached(act, grid, sb, q0, order)
    above = chi_grid > 1.0
    roots, jumps = [], []
    for i in np.flatnonzero(above[:-1] != above[1:]):
        a, b = float(grid[i]), float(grid[i + 1])
        ca, cb = float(chi_grid[i]), float(chi_grid[i + 1])
        gaps = [abs(cb - ca)]
        while b - a > xtol:  # bisection: chi_1 may jump, so no secant steps
            m = 0.5 * (a + b)
            if not a < m < b:
                break
            cm = float(_chi1_reached(act, m, sb, q0, order)[1][0])
            if (cm > 1.0) == (ca > 1.0):
                a, ca = m, cm
            else:
                b, cb = m, cm
            gaps.append(abs(cb - ca))
        wider = gaps[max(len(gaps) - 1 - _JUMP_HALVINGS, 0)]
        if gaps[-1] > _JUMP_TOL and gaps[-1] > 0.5 * wider:
            sides = np.array([a * (1 - _JUMP_SIDE), b * (1 + _JUMP_SIDE)])
            q_side, chi_side = _chi1_reached(act, sides, sb, q0, order)
            jumps.append(Jump(0.5 * (a + b), *map(float, chi_side), *map(float, q_side)))
        else:
            roots.append(a + (b - a) * ((1.0 - ca) / (cb - ca) if cb != ca else 0.5))
    if roots:
        sw = roots[0]
        (q_star,), (chi,) = _chi1_reached(act, sw, sb, q0, order)
    else:
        sw = q_star = chi = math.nan
    return EdgeOfChaos(
        act.name,
        sb,
        q0,
        float(sw),
        float(q_star),
        float(chi),
        tuple(jumps),
        (lo, hi),
        (float(chi_grid[0]), float(chi_grid[-1])),
    )


def critical_sigma_w2(activation: ActivationLike, sigma_b2: float = 0.0, **options) -> float:
    """The weight variance ``sigma_w^2`` on the edge of chaos, where ``chi_1 = 1``.

    :func:`edge_of_chaos` (which takes the same ``options``: ``q0``, ``bracket``,
    ``order``, ``xtol``) without the explanation: the ``sigma_w^2`` where ``chi_1``,
    evaluated at the stable fixed point reached from the input variance ``q0``, crosses
    1 continuously (Poole et al., 2016, Fig. 1).  Analytic values: ``2`` for ReLU (He et
    al., 2015), ``2 / (1 + a^2)`` for leaky ReLU, ``1`` for linear and for tanh at
    ``sigma_b^2 = 0``.  For tanh the line rises with the bias: ``1.424`` at
    ``sigma_b^2 = 0.01``, ``1.761`` at ``0.05``, ``1.986`` at ``0.1``, ``2.285`` at ``0.2``
    and ``2.505`` at ``0.3``.

    Raises
    ------
    NoEdgeOfChaos
        (a :class:`~initlab.errors.ConfigError`, so a ``ValueError``) if ``chi_1`` never
        crosses 1 over the bracket, or crosses it only by jumping (GELU, SiLU and mish at
        small ``sigma_b^2``); the message says which, and ``.edge`` holds the details.

    Examples
    --------
    >>> round(critical_sigma_w2("relu"), 10)
    2.0
    >>> from initlab.activations import get
    >>> round(critical_sigma_w2(get("leaky_relu", slope=0.2)), 6)   # 2 / 1.04
    1.923077
    """
    edge = edge_of_chaos(activation, sigma_b2, **options)
    if not edge.found:
        raise NoEdgeOfChaos(edge)
    return edge.sigma_w2


def initializers_for(
    activation: ActivationLike,
    init: str = "critical",
    *,
    sigma_w2: float | None = None,
    sigma_b2: float = 0.0,
    q0: float = 1.0,
    bias_init: str = "zeros",
):
    """The weight and bias initializers of a named ``init``, or of the edge of chaos.

    * ``init="critical"``: ``W ~ N(0, sigma_w^2 / fan_in)`` with ``sigma_w^2`` on the edge
      of chaos of ``activation`` at ``sigma_b2`` and input variance ``q0``
      (:func:`critical_sigma_w2`, which raises :class:`NoEdgeOfChaos` where there is none,
      saying why);
    * ``sigma_w2`` given: ``W ~ N(0, sigma_w2 / fan_in)`` whatever ``init`` says (named
      ``critical(...)`` when ``init="critical"``, ``gaussian(...)`` otherwise);
    * otherwise the registered initializer called ``init`` (``"he"``, ``"lsuv"``, ...).

    Biases are ``N(0, sigma_b2)`` when ``sigma_b2 > 0``, else ``bias_init``.  This is what
    ``initlab diagnose --init/--sigma-w2/--sigma-b2`` and ``initlab.torch.init_`` use.

    Returns
    -------
    (Initializer, BiasInitializer)
        Ready for :func:`initlab.engine.init_params` and :mod:`initlab.diagnostics`.
        The critical initializer is named ``critical(sigma_w2=...)``; its ``scale`` is
        ``sigma_w^2``.

    Examples
    --------
    >>> w, b = initializers_for("tanh", "critical", sigma_b2=0.05)
    >>> round(w.scale, 4), b.name
    (1.761, 'normal')
    >>> initializers_for("relu", "he")[0].name
    'he_normal'
    """
    sb = float(_nonneg("sigma_b2", 0.0 if sigma_b2 is None else sigma_b2))
    bias = (
        initializers.get_bias("normal", std=math.sqrt(sb))
        if sb > 0
        else initializers.get_bias(bias_init)
    )
    critical = isinstance(init, str) and init.strip().lower() == "critical"
    if critical and sigma_w2 is None:
        sigma_w2 = critical_sigma_w2(activation, sb, q0=q0)
    if sigma_w2 is not None:
        sw = float(_nonneg("sigma_w2", sigma_w2))
        if sw == 0.0:
            raise ConfigError(
                "sigma_w2 must be > 0 (use init='zeros' for zero weights)", "sigma_w2"
            )
        label = f"{'critical' if critical else 'gaussian'}(sigma_w2={sw:.6g})"
        return initializers.variance_scaling(sw, "fan_in", "normal", name=label), bias
    return initializers.get(init), bias


# --- phase diagram ---------------------------------------------------------------------------
class PhaseDiagram(NamedTuple):
    """``chi_1`` and ``q*`` on a grid; arrays have shape ``(len(sigma_b2), len(sigma_w2))``."""

    sigma_w2: np.ndarray
    sigma_b2: np.ndarray
    q_star: np.ndarray
    chi1: np.ndarray


def phase_diagram(
    activation: ActivationLike,
    sigma_w2_grid: Sequence[float] | np.ndarray,
    sigma_b2_grid: Sequence[float] | np.ndarray,
    *,
    q0: float = 1.0,
    order: int = DEFAULT_ORDER,
) -> PhaseDiagram:
    """``chi_1`` and ``q*`` over a grid of ``(sigma_w^2, sigma_b^2)``.

    The whole grid is iterated at once (one population of networks), as in
    Poole et al. (2016), Fig. 1 and Schoenholz et al. (2017), Fig. 1.

    Returns
    -------
    PhaseDiagram
        Rows follow ``sigma_b2_grid``, columns ``sigma_w2_grid`` (ready for
        ``pcolormesh(sigma_w2, sigma_b2, chi1)``).  ``q_star`` is the fixed point reached
        from the input variance ``q0``, ``inf`` where the signal explodes; ``chi1`` is
        then its large-``q`` limit.

    Examples
    --------
    >>> pd = phase_diagram("relu", [1.0, 2.0, 3.0], [0.0, 0.1])
    >>> pd.chi1.round(12).tolist()
    [[0.5, 1.0, 1.5], [0.5, 1.0, 1.5]]
    """
    act = _act(activation)
    sw = _nonneg("sigma_w2", np.atleast_1d(np.asarray(sigma_w2_grid, dtype=float)))
    sb = _nonneg("sigma_b2", np.atleast_1d(np.asarray(sigma_b2_grid, dtype=float)))
    SW, SB = np.meshgrid(sw, sb)
    q0 = float(_nonneg("q0", q0))
    q_star, q_eval = _solve_q(act, SW.ravel(), SB.ravel(), q0, 1e-12, _MAX_ITER, order)
    chi = SW.ravel() * _second_moment(act, q_eval, order, deriv=True)
    return PhaseDiagram(sw, sb, q_star.reshape(SW.shape), chi.reshape(SW.shape))


# --- named initializers ----------------------------------------------------------------------
def init_names() -> list[str]:
    """The registered initializers whose variance :func:`named_init_sigma_w2` knows.

    Every registered :mod:`~initlab.initializers` name except the data-dependent
    ones (LSUV), whose variance is set from the data.
    """
    return [n for n in initializers.names() if not initializers.get(n).data_dependent]


def named_init_sigma_w2(
    init: str | initializers.Initializer,
    activation: ActivationLike = "linear",
    fan_in: int = 100,
    fan_out: int | None = None,
) -> float:
    """The mean-field ``sigma_w^2 = fan_in * Var[W]`` of an initializer.

    ``Var[W]`` is the initializer's own :meth:`~initlab.initializers.Initializer.variance`,
    so a name means here the network ``FFNetwork(init=name)`` draws:

    ==============  =====================================  ==========================
    name            Var[W]                                 sigma_w^2
    ==============  =====================================  ==========================
    zeros           0                                      0
    random          std^2 = 1 (the blog's ``N(0, 1)``)     fan_in
    xavier_normal   2 / (fan_in + fan_out) (Glorot 2010)   2 fan_in / (fan_in+fan_out)
    he_normal       2 / ((1 + a^2) fan_in) (He 2015)       2 / (1 + a^2), a = 0
    lecun_normal    1 / fan_in (LeCun 1998)                1
    orthogonal      gain^2 / max(fan_in, fan_out) (Saxe)   gain^2 fan_in / max(..)
    ==============  =====================================  ==========================

    The ``_uniform`` variants share their normal one's variance.  The activation
    does not change the answer (it is accepted so that one call reads like the
    network it describes): He's leaky-ReLU correction is ``a``, and torch's
    ``calculate_gain`` is ``variance_scaling(gain**2, "fan_in")``, both
    initializers of their own.

    Parameters
    ----------
    init : str or Initializer
        A registered name (aliases allowed) or an initializer object.
    activation : str or Activation
    fan_in, fan_out : int
        The layer's fans (``fan_out`` defaults to ``fan_in``).

    Examples
    --------
    >>> named_init_sigma_w2("he", "relu", 256)
    2.0
    >>> round(named_init_sigma_w2(initializers.get("he_normal", a=0.2), "leaky_relu", 256), 4)
    1.9231
    >>> named_init_sigma_w2("random", "tanh", 256)
    256.0
    """
    _act(activation)
    fan_out = fan_in if fan_out is None else fan_out
    for label, fan in (("fan_in", fan_in), ("fan_out", fan_out)):
        if isinstance(fan, bool) or not isinstance(fan, int | np.integer) or fan < 1:
            raise ValueError(f"{label} must be a positive integer, got {fan!r}")
    weights = initializers.get(init)
    variance = weights.variance(int(fan_in), int(fan_out))
    if not math.isfinite(variance):
        raise ValueError(
            f"initializer {weights.name!r} sets its variance from the data; "
            f"choose one of: {', '.join(init_names())}"
        )
    return float(fan_in * variance)
