"""The compiled fast path: whole training runs of small networks in one numba call.

:mod:`initlab.engine` is the reference: readable NumPy, one array operation
per line of the chain rule.  This module trains the same networks with the
same math, compiled: forward pass, loss, backward pass, weight penalties and
the optimizer step fused, for all epochs of a :meth:`Trainer.step
<initlab.engine.Trainer.step>` call at once.  It is imported (and numba with
it) only when a trainer uses it.

Layout
------
Models sit in the SIMD lanes.  A *block* of ``L`` models keeps its
parameters as one ``(P, L)`` array ``theta`` (row ``p`` is parameter ``p`` of
every model in the block; ``W[l]`` row-major ``(n_in, n_out)``, then
``b[l]``), with gradients and optimizer moments of the same shape.  Samples
go through the whole network ``S`` at a time (a *sample block*): each weight
row loaded serves ``S`` samples of ``L`` models, and a block's gradient stays
in cache while the batch streams through.  Every operation is elementwise
over the lanes, so a model's numbers never depend on which other models
share its block, population or thread.

Blocks are independent: a population's blocks are trained by threads (the
kernels release the GIL).  numba's ``prange`` is not used: its OpenMP layer
is not fork-safe (the sweep forks worker processes) and its workqueue layer
is not thread-safe (the playground trains from threads).

Compilation
-----------
One training kernel per dtype (:func:`train_block`) calls the activation,
the loss and the optimizer step through function pointers
(:func:`kernel_functions`), each a small ``cfunc`` compiled the first time
it is used.  So a study compiles only what it uses, and every compiled piece
is cached on disk (numba ``cache=True``: ``__pycache__`` next to this file,
or ``NUMBA_CACHE_DIR``) for every later process.

Transcendental functions (``exp``, ``expm1``, ``log``, ``tanh``) are written
here from arithmetic, branch-free, so that the loops over lanes vectorize
(libm calls do not), and every machine computes the same bits (no FMA:
numba does not contract without ``fastmath``).  Each is within 2 ulp of libm
(``tests/test_kernels.py``).  Activations, losses and their derivatives are
evaluated in float64 (in float32 populations too, then rounded once), the
dense layers and the optimizer in the population's dtype, as the NumPy
engine does.

Codes
-----
Activations, losses and optimizers are named by :data:`ACTIVATIONS`,
:data:`LOSSES` and :data:`OPTIMIZERS`; anything missing from these tables
is trained by the NumPy engine.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import threading
import warnings

import numpy as np
from llvmlite import ir
from numba import carray, cfunc, errors, njit, types
from numba.extending import intrinsic, overload

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "OPTIMIZERS",
    "HYPER_ROWS",
    "Population",
    "kernel_functions",
    "train_block",
    "n_threads",
]

#: Compiled activations: registry name -> code; each code's function and
#: derivative are written side by side (``_<name>_fd``).
ACTIVATIONS = {
    "sigmoid": 0,
    "tanh": 1,
    "relu": 2,
    "leaky_relu": 3,
    "elu": 4,
    "selu": 5,
    "gelu": 6,
    "silu": 7,
    "softplus": 8,
    "mish": 9,
    "linear": 10,
}
#: Compiled losses: registry name -> code (see :func:`_output`).
LOSSES = {"cross_entropy": 0, "binary_cross_entropy": 1, "mse": 2}
#: Compiled optimizers: the name in :attr:`GradientTransformation.recipe
#: <initlab.optim.GradientTransformation>` -> code (see :func:`_step`).
OPTIMIZERS = {"gd": 0, "momentum": 1, "nag": 2, "adagrad": 3, "rmsprop": 4, "adam": 5}
#: Rows of the per-model hyperparameter array ``hyper`` ``(len(HYPER_ROWS), L)``.
HYPER_ROWS = (
    "learning_rate",
    "momentum",  # momentum, nag; rho (rmsprop); beta1 (adam)
    "beta2",
    "eps",
    "weight_decay",  # adamw's decoupled decay
    "l1",
    "l2",
    "act_param",  # leaky slope, ELU alpha
)
_LR, _MU, _B2, _EPS, _WD, _L1, _L2, _ACT = range(len(HYPER_ROWS))

_JIT = dict(cache=True, nogil=True, error_model="numpy")

# --- bit casts and pointers ------------------------------------------------------------------


@intrinsic
def _i64_as_f64(typingctx, x):
    sig = types.float64(types.int64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return sig, codegen


@intrinsic
def _f64_as_i64(typingctx, x):
    sig = types.int64(types.float64)

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return sig, codegen


@intrinsic
def _ptr(typingctx, arr):
    """The data pointer of an array (to hand it to a compiled function)."""
    sig = types.CPointer(arr.dtype)(arr)

    def codegen(context, builder, signature, args):
        return context.make_array(signature.args[0])(context, builder, value=args[0]).data

    return sig, codegen


@intrinsic
def _row(typingctx, arr, r):
    """A pointer to ``arr[r, 0]`` of a C-contiguous 2-D array (no view is built)."""
    sig = types.CPointer(arr.dtype)(arr, r)

    def codegen(context, builder, signature, args):
        ary = context.make_array(signature.args[0])(context, builder, value=args[0])
        ncols = builder.extract_value(ary.shape, 1)
        offset = builder.mul(context.cast(builder, args[1], signature.args[1], types.intp), ncols)
        return builder.gep(ary.data, [offset])

    return sig, codegen


# --- elementary functions, float64, branch-free ----------------------------------------------
_LOG2E = 1.4426950408889634
# ln 2 split so that k * _LN2_HI is exact for |k| < 2^11 (fdlibm's split)
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# adding 1.5 * 2^52 rounds a double of magnitude < 2^51 to an integer (round to nearest)
_ROUND = 6755399441055744.0


@njit(inline="always", **_JIT)
def _pow2(k):
    """``2.0 ** k`` for integer ``k`` in [-1022, 1023], by building the exponent bits."""
    return _i64_as_f64((k + 1023) << 52)


@njit(inline="always", **_JIT)
def _expq(x):
    """``(q, k)`` with ``e ** x = 2 ** k (1 + q)``: ``x = k ln2 + r``, ``|r| <= ln2 / 2``.

    ``q = e ** r - 1`` by its Taylor series to ``r ** 13`` (relative error
    < 1e-17), evaluated without the leading 1 so that ``expm1`` stays
    accurate near 0.  ``x`` is clamped to [-746, 710] (beyond, ``e ** x``
    is 0 or inf anyway).
    """
    xc = x if x < 710.0 else 710.0
    xc = xc if xc > -746.0 else -746.0  # NaN becomes -746 here; callers restore it
    kf = (xc * _LOG2E + _ROUND) - _ROUND
    r = (xc - kf * _LN2_HI) - kf * _LN2_LO
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    return p * r, np.int64(kf)


@njit(inline="always", **_JIT)
def _exp(x):
    """``e ** x`` to 1 ulp; ``2 ** k`` applied as two halves so that subnormal
    results and overflow to inf come out right; NaN propagates."""
    q, k = _expq(x)
    k1 = k >> 1
    y = (1.0 + q) * _pow2(k1) * _pow2(k - k1)
    return y if x == x else x


@njit(inline="always", **_JIT)
def _expm1(x):
    """``e ** x - 1``, accurate near 0: ``2 ** k q + (2 ** k - 1)`` (``k = 0`` there).

    Only used for ``x <= 0`` (tanh, ELU, SELU); below -40 it is -1 to double
    precision, so ``x`` is clamped there and ``2 ** k`` stays normal.
    """
    q, k = _expq(x if x > -40.0 else -40.0)
    s = _pow2(k)
    y = s * q + (s - 1.0)
    return y if x == x else x


# fdlibm's e_log.c: log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f)
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01
_SQRT2 = 1.4142135623730951
_TWO54 = 18014398509481984.0


@njit(inline="always", **_JIT)
def _log(x):
    """Natural log (fdlibm's method, < 1 ulp): ``x = 2^k m``, ``m`` in [sqrt(1/2), sqrt(2))."""
    tiny = x < 2.2250738585072014e-308
    xs = x * _TWO54 if tiny else x
    bits = _f64_as_i64(xs)
    k = ((bits >> 52) & 0x7FF) - 1023 - (54 if tiny else 0)
    m = _i64_as_f64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # [1, 2)
    high = m > _SQRT2
    m = m * 0.5 if high else m
    k = k + 1 if high else k
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    R = t2 + t1
    hfsq = 0.5 * f * f
    dk = np.float64(k)
    y = dk * _LN2_HI - ((hfsq - (s * (hfsq + R) + dk * _LN2_LO)) - f)
    y = y if x < math.inf else x  # inf, and NaN
    y = y if x > 0.0 else (-math.inf if x == 0.0 else math.nan)
    return y if x == x else x


@njit(inline="always", **_JIT)
def _tanh(x):
    """``tanh(x) = -t / (t + 2)`` with ``t = expm1(-2|x|)``, sign restored (accurate near 0)."""
    t = _expm1(-2.0 * abs(x))
    y = -t / (t + 2.0)
    return -y if x < 0.0 else (y if x == x else x)


@njit(inline="always", **_JIT)
def _sigmoid(x):
    return 1.0 / (1.0 + _exp(-x))


@njit(inline="always", **_JIT)
def _softplus(x):
    """``log(1 + e^x)`` as ``max(x, 0) + log1p(e^-|x|)``."""
    return (x if x > 0.0 else 0.0) + math.log1p(_exp(-abs(x)))


# --- activations: f and df side by side -------------------------------------------------------
# --- activations: f and df side by side -------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


@njit(inline="always", **_JIT)
def _sigmoid_fd(z, c):  # a (1 - a)
    a = _sigmoid(z)
    return a, (1.0 - a) * a


@njit(inline="always", **_JIT)
def _tanh_fd(z, c):  # 1 - a^2
    a = _tanh(z)
    return a, 1.0 - a * a


@njit(inline="always", **_JIT)
def _relu_fd(z, c):  # 1 for z > 0; NaN propagates, as np.maximum
    return (0.0 if z <= 0.0 else z), (1.0 if z > 0.0 else 0.0)


@njit(inline="always", **_JIT)
def _leaky_relu_fd(z, c):  # slope c
    return (z if z > 0.0 else c * z), (1.0 if z > 0.0 else c)


@njit(inline="always", **_JIT)
def _elu_fd(z, c):  # alpha c
    neg = z if z < 0.0 else 0.0
    return (z if z > 0.0 else c * _expm1(neg)), (1.0 if z > 0.0 else c * _exp(neg))


@njit(inline="always", **_JIT)
def _selu_fd(z, c):
    neg = z if z < 0.0 else 0.0
    a = SELU_SCALE * (z if z > 0.0 else SELU_ALPHA * _expm1(neg))
    return a, SELU_SCALE * (1.0 if z > 0.0 else SELU_ALPHA * _exp(neg))


@njit(inline="always", **_JIT)
def _gelu_fd(z, c):  # exact erf form
    cdf = 0.5 * (1.0 + math.erf(z * _INV_SQRT2))
    return z * cdf, cdf + z * (_INV_SQRT_2PI * _exp(-0.5 * z * z))


@njit(inline="always", **_JIT)
def _silu_fd(z, c):
    s = _sigmoid(z)
    return z * s, s * (1.0 + z * (1.0 - s))


@njit(inline="always", **_JIT)
def _softplus_fd(z, c):
    return _softplus(z), _sigmoid(z)


@njit(inline="always", **_JIT)
def _mish_fd(z, c):
    t = _tanh(_softplus(z))
    return z * t, t + z * (1.0 - t * t) * _sigmoid(z)


@njit(inline="always", **_JIT)
def _linear_fd(z, c):
    return z, 1.0


_ACT_FD = {
    0: _sigmoid_fd,
    1: _tanh_fd,
    2: _relu_fd,
    3: _leaky_relu_fd,
    4: _elu_fd,
    5: _selu_fd,
    6: _gelu_fd,
    7: _silu_fd,
    8: _softplus_fd,
    9: _mish_fd,
    10: _linear_fd,
}
assert set(_ACT_FD) == set(ACTIVATIONS.values())


def _activate(code, z, c):  # pragma: no cover - compiled code uses the overload below
    """``(f(z), f'(z))`` of activation ``code`` (a compile-time constant)."""
    raise NotImplementedError


@overload(_activate, inline="always", jit_options=_JIT)
def _activate_overload(code, z, c):
    if not isinstance(code, types.IntegerLiteral):
        raise errors.RequireLiteralValue(code)
    fd = _ACT_FD[code.literal_value]

    def impl(code, z, c):
        return fd(z, c)

    return impl


# --- the pieces called through function pointers: activation, loss, optimizer step ---------
def _act_slab(code):
    """``A = f(A)`` and ``D = f'(z)`` over ``rows x lanes`` (in place), activation ``code``."""

    def slab(a_ptr, d_ptr, c_ptr, rows, lanes):
        A = carray(a_ptr, (rows, lanes))
        D = carray(d_ptr, (rows, lanes))
        c = carray(c_ptr, (lanes,))
        for r in range(rows):
            for m in range(lanes):
                a, d = _activate(code, np.float64(A[r, m]), np.float64(c[m]))
                A[r, m] = a
                D[r, m] = d

    return slab


def _output(code):
    """Loss, accuracy and ``dL/dz`` of the output layer for a sample block (loss ``code``).

    ``Z`` ``(K * S, L)`` holds the output pre-activations (row ``k * S + s``),
    ``t`` the labels.  cross_entropy: softmax by log-sum-exp,
    ``L = log(sum e^(z - max)) - (z_t - max)``, ``dL/dz = p - onehot``;
    binary_cross_entropy: one sigmoid unit, ``L = log(1 + e^z) - t z``,
    ``dL/dz = p - t``; mse: softmax, ``L = sum (p - y)^2 / K``,
    ``dL/dz = p (v - sum p v)`` with ``v = 2 (p - y) / K``.  Per-sample losses
    are added to ``lsum``, correct predictions to ``correct`` (argmax of the
    probabilities, ties and NaN as ``np.argmax``; ``p > 0.5`` for one unit);
    ``flags``: 1 for ``dL/dz * scale`` into ``delta`` (same layout as ``Z``), 2 for the
    accuracy.
    """

    def output(z_ptr, d_ptr, t_ptr, count, S, K, lanes, scale, ls_ptr, c_ptr, flags, p_ptr, v_ptr):
        need_delta = flags & 1
        need_acc = flags & 2
        Z = carray(z_ptr, (K * S, lanes))
        delta = carray(d_ptr, (K * S, lanes))
        t = carray(t_ptr, (S,))
        lsum = carray(ls_ptr, (lanes,))
        correct = carray(c_ptr, (lanes,))
        P = carray(p_ptr, (K, lanes))
        vec = carray(v_ptr, (4, lanes))
        for s in range(count):
            ts = t[s]
            if code == 1:
                tf = np.float64(ts)
                for m in range(lanes):
                    z = np.float64(Z[s, m])
                    p = _sigmoid(z)
                    lsum[m] += _softplus(z) - tf * z
                    correct[m] += 1.0 if (p > 0.5) == (ts == 1) else 0.0
                if need_delta:
                    for m in range(lanes):
                        delta[s, m] = (_sigmoid(np.float64(Z[s, m])) - tf) * scale
                continue
            for m in range(lanes):
                vec[0, m] = Z[s, m]
                vec[1, m] = 0.0
            for k in range(1, K):
                for m in range(lanes):
                    zk = np.float64(Z[k * S + s, m])
                    vec[0, m] = zk if (zk > vec[0, m] or zk != zk) else vec[0, m]  # NaN propagates
            for k in range(K):
                for m in range(lanes):
                    e = _exp(np.float64(Z[k * S + s, m]) - vec[0, m])
                    P[k, m] = e
                    vec[1, m] += e
            if code == 0:  # log-sum-exp minus the target's shifted logit
                for m in range(lanes):
                    lsum[m] += _log(vec[1, m]) - (np.float64(Z[ts * S + s, m]) - vec[0, m])
            for m in range(lanes):
                vec[1, m] = 1.0 / vec[1, m]  # p = e / sum(e), by one division per sample
            for k in range(K):
                for m in range(lanes):
                    P[k, m] = P[k, m] * vec[1, m]
            # argmax of p: first maximum; the first NaN wins (np.argmax)
            for m in range(lanes if need_acc else 0):
                vec[2, m] = P[0, m]
                vec[3, m] = 0.0
            for k in range(1 if need_acc else K, K):
                for m in range(lanes):
                    p = P[k, m]
                    better = vec[2, m] == vec[2, m] and (p > vec[2, m] or p != p)
                    vec[3, m] = k if better else vec[3, m]
                    vec[2, m] = p if better else vec[2, m]
            for m in range(lanes if need_acc else 0):
                correct[m] += 1.0 if vec[3, m] == ts else 0.0
            if code == 0:
                if need_delta:
                    for k in range(K):
                        hot = 1.0 if k == ts else 0.0
                        for m in range(lanes):
                            delta[k * S + s, m] = (P[k, m] - hot) * scale
            else:
                for m in range(lanes):
                    vec[2, m] = 0.0  # sum (p - y)^2
                    vec[3, m] = 0.0  # sum p v
                for k in range(K):
                    hot = 1.0 if k == ts else 0.0
                    for m in range(lanes):
                        dk = P[k, m] - hot
                        vec[2, m] += dk * dk
                        vec[3, m] += P[k, m] * (dk * (2.0 / K))
                for m in range(lanes):
                    lsum[m] += vec[2, m] / K
                if need_delta:
                    for k in range(K):
                        hot = 1.0 if k == ts else 0.0
                        for m in range(lanes):
                            v = (P[k, m] - hot) * (2.0 / K)
                            delta[k * S + s, m] = P[k, m] * (v - vec[3, m]) * scale

    return output


def _step(code):
    """Weight penalties, then one update of every parameter by optimizer ``code``.

    The formulas and the order of operations of :mod:`initlab.optim`, per
    lane.  ``wrows[r]`` is 1 for rows that are weights (penalized:
    ``g += l1 sign(W) + l2 W``), 0 for biases; ``count`` is the step number
    (Adam's bias correction).
    """

    def step(th_ptr, g_ptr, s1_ptr, s2_ptr, h_ptr, w_ptr, P, lanes, count, decoupled):
        theta = carray(th_ptr, (P, lanes))
        grad = carray(g_ptr, (P, lanes))
        hyper = carray(h_ptr, (8, lanes))
        wrows = carray(w_ptr, (P,))
        s1 = carray(s1_ptr, (P, lanes))
        s2 = carray(s2_ptr, (P, lanes))
        one = theta.dtype.type(1)
        use_l1 = False
        use_l2 = False
        for m in range(lanes):
            use_l1 = use_l1 or hyper[5, m] != 0
            use_l2 = use_l2 or hyper[6, m] != 0
        tf = theta.dtype.type(count)
        for r in range(P):
            if wrows[r] and use_l1:
                for m in range(lanes):
                    w = theta[r, m]
                    sg = one if w > 0 else (-one if w < 0 else w - w)  # np.sign: 0 at 0, NaN
                    grad[r, m] += hyper[5, m] * sg
            if wrows[r] and use_l2:
                for m in range(lanes):
                    grad[r, m] += hyper[6, m] * theta[r, m]
            if code == 0:  # gd: p -= lr g
                for m in range(lanes):
                    theta[r, m] += -hyper[0, m] * grad[r, m]
            elif code == 1:  # momentum: v = mu v + g; p -= lr v
                for m in range(lanes):
                    v = hyper[1, m] * s1[r, m] + grad[r, m]
                    s1[r, m] = v
                    theta[r, m] += -hyper[0, m] * v
            elif code == 2:  # nag: v = mu v + g; p -= lr (g + mu v)
                for m in range(lanes):
                    g = grad[r, m]
                    v = hyper[1, m] * s1[r, m] + g
                    s1[r, m] = v
                    theta[r, m] += -hyper[0, m] * (g + hyper[1, m] * v)
            elif code == 3:  # adagrad: s += g^2; p -= lr g / (sqrt(s) + eps)
                for m in range(lanes):
                    g = grad[r, m]
                    s = s1[r, m] + g * g
                    s1[r, m] = s
                    theta[r, m] += -hyper[0, m] * g / (np.sqrt(s) + hyper[3, m])
            elif code == 4:  # rmsprop: s = rho s + (1 - rho) g^2; p -= lr g / (sqrt(s) + eps)
                for m in range(lanes):
                    g = grad[r, m]
                    s = hyper[1, m] * s1[r, m] + (one - hyper[1, m]) * (g * g)
                    s1[r, m] = s
                    theta[r, m] += -hyper[0, m] * g / (np.sqrt(s) + hyper[3, m])
            else:  # adam(w): bias-corrected moments; decoupled decay -lr wd p
                for m in range(lanes):
                    g = grad[r, m]
                    b1 = hyper[1, m]
                    mo = b1 * s1[r, m] + (one - b1) * g
                    ve = hyper[2, m] * s2[r, m] + (one - hyper[2, m]) * (g * g)
                    s1[r, m] = mo
                    s2[r, m] = ve
                    m_hat = mo / (one - b1**tf)
                    v_hat = ve / (one - hyper[2, m] ** tf)
                    u = -hyper[0, m] * (m_hat / (np.sqrt(v_hat) + hyper[3, m]))
                    if decoupled:
                        u = u - hyper[0, m] * hyper[4, m] * theta[r, m]
                    theta[r, m] += u
            for m in range(lanes):
                grad[r, m] = 0

    return step


def _signatures(F):
    ptr, i64, f64 = types.CPointer, types.int64, types.float64
    return {
        "act": types.void(ptr(F), ptr(F), ptr(F), i64, i64),
        "loss": types.void(
            ptr(F),
            ptr(F),
            ptr(i64),
            i64,
            i64,
            i64,
            i64,
            f64,
            ptr(f64),
            ptr(f64),
            i64,
            ptr(f64),
            ptr(f64),
        ),
        "step": types.void(
            ptr(F), ptr(F), ptr(F), ptr(F), ptr(F), ptr(types.int8), i64, i64, i64, i64
        ),
    }


_FACTORIES = {"act": _act_slab, "loss": _output, "step": _step}
_COMPILED: dict[tuple, object] = {}
_WARM: set = set()  # dtypes whose train_block is compiled in this process
_COMPILE_LOCK = threading.Lock()


def kernel_functions(activation: str, loss: str, optimizer: str, dtype) -> tuple:
    """The compiled ``(activation, loss, step)`` functions for a population (compiled once)."""
    F = types.float64 if np.dtype(dtype) == np.float64 else types.float32
    codes = {"act": ACTIVATIONS[activation], "loss": LOSSES[loss], "step": OPTIMIZERS[optimizer]}
    out = []
    with _COMPILE_LOCK:
        sigs = _signatures(F)
        for kind in ("act", "loss", "step"):
            key = (kind, codes[kind], str(F))
            fn = _COMPILED.get(key)
            if fn is None:
                with _quiet():
                    fn = cfunc(sigs[kind], **_JIT)(_FACTORIES[kind](codes[kind]))
                _COMPILED[key] = fn
            out.append(fn)
    return tuple(out)


@contextlib.contextmanager
def _quiet():
    """Silence numba's internal pedantic SSA check while compiling: a known false alarm
    for functions inlined with ``inline="always"`` (the compiled code is what the tests
    check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", errors.NumbaIRAssumptionWarning)
        yield


# --- one sample block through the network -----------------------------------------------------
@njit(**_JIT)
def _gather(X, y, order, start, count, S, A, tb):
    """Inputs of samples ``order[start : start + count]`` into the input rows of ``A``.

    Input ``i`` of sample ``s`` is row ``i * S + s``, the same in every lane
    (the data are shared by the models), so every layer reads its inputs the
    same way.
    """
    L = A.shape[1]
    for s in range(count):
        n = order[start + s]
        tb[s] = y[n]
        for i in range(X.shape[1]):
            x = X[n, i]
            for m in range(L):
                A[i * S + s, m] = x


@njit(**_JIT)
def _forward(theta, hyper, sizes, woff, boff, uoff, act_fn, S, count, A, D):
    """Activations of ``count`` samples, every layer, into ``A`` (derivatives into ``D``).

    Row ``uoff[l + 1] + o * S + s`` holds unit ``o`` of layer ``l`` for
    sample ``s`` (the last layer keeps its pre-activation ``z``).  Each unit
    sums its inputs in order and adds the bias last, as the NumPy engine.
    """
    L = theta.shape[1]
    n_layers = sizes.shape[0] - 1
    for layer in range(n_layers):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        w0, b0, p0, u0 = woff[layer], boff[layer], uoff[layer], uoff[layer + 1]
        for r in range(u0, u0 + n_out * S):
            for m in range(L):
                A[r, m] = 0
        for o in range(n_out):
            for i in range(n_in):
                wr = w0 + i * n_out + o
                for s in range(count):
                    for m in range(L):
                        A[u0 + o * S + s, m] += theta[wr, m] * A[p0 + i * S + s, m]
            for s in range(count):
                for m in range(L):
                    A[u0 + o * S + s, m] += theta[b0 + o, m]
        if layer < n_layers - 1:
            act_fn(_row(A, u0), _row(D, u0), _row(hyper, _ACT), n_out * S, L)


@njit(**_JIT)
def _backward(theta, grad, sizes, woff, boff, uoff, S, count, A, D, d_out, d_tmp):
    """Add the gradients of ``count`` samples to ``grad`` (the layout of ``theta``).

    ``d_out`` holds ``dL/dz`` of the output layer (rows ``o * S + s``); then,
    from the last layer down, ``dW += a_prev^T delta``, ``db += sum(delta)``,
    ``delta_prev = (W delta) * f'(z_prev)``.
    """
    L = theta.shape[1]
    n_layers = sizes.shape[0] - 1
    cur, nxt = d_out, d_tmp
    for layer in range(n_layers - 1, -1, -1):
        n_in, n_out = sizes[layer], sizes[layer + 1]
        w0, b0, p0 = woff[layer], boff[layer], uoff[layer]
        for o in range(n_out):
            for s in range(count):
                for m in range(L):
                    grad[b0 + o, m] += cur[o * S + s, m]
        for i in range(n_in):
            for o in range(n_out):
                wr = w0 + i * n_out + o
                for s in range(count):
                    for m in range(L):
                        grad[wr, m] += A[p0 + i * S + s, m] * cur[o * S + s, m]
        if layer == 0:
            break
        for r in range(n_in * S):
            for m in range(L):
                nxt[r, m] = 0
        for i in range(n_in):
            for o in range(n_out):
                wr = w0 + i * n_out + o
                for s in range(count):
                    for m in range(L):
                        nxt[i * S + s, m] += theta[wr, m] * cur[o * S + s, m]
            for s in range(count):
                for m in range(L):
                    nxt[i * S + s, m] *= D[p0 + i * S + s, m]
        cur, nxt = nxt, cur


@njit(**_JIT)
def train_block(
    theta, s1, s2, hyper, sizes, woff, boff, uoff, wrows, act_fn, loss_fn, step_fn, decoupled,
    count0, X, y, Xv, yv, orders, n_epochs, batch, S, record, final, history, epoch_loss,
    params_bad, scratch, stats, tb, natural,
):  # fmt: skip
    """Train a block of models for ``n_epochs`` epochs; returns the step count.

    ``orders[e % len(orders)]`` is the sample order of epoch ``e``; batches
    are its consecutive slices of ``batch`` samples.  Writes
    ``epoch_loss[e]``: with full batches the mean training loss at the start
    of epoch ``e`` (the one the gradient sees), else the mean over the
    epoch's batches of their mean loss; ``params_bad[e]``: a parameter is inf
    or NaN after epoch ``e``.  With ``record``, ``history[e]`` gets the train
    loss and accuracy and (if ``Xv`` has rows) the validation loss and
    accuracy at the start of epoch ``e``; with ``final``, ``history[E]``
    those after the last epoch.

    Evaluation and training share one loop over batches, so the forward pass
    is called from one place (a small kernel compiles faster).  Scratch
    arrays come from the caller (:class:`Population`): ``scratch`` is
    ``(A, D, d1, d2, grad)`` in the parameters' dtype, ``stats`` float64
    ``(P, vec, lsum, bsum, correct)``.
    """
    P_, L = theta.shape
    N, Nv = X.shape[0], Xv.shape[0]
    K = sizes[-1]
    zoff = uoff[sizes.shape[0] - 1]
    A, D, d1, d2, grad = scratch
    P, vec, lsum, bsum, correct = stats
    full = batch >= N
    count = count0
    for e in range(n_epochs + final):
        last = e == n_epochs
        for job in range(3):  # evaluate the training set, the validation set; train
            if job == 0:
                run = last or (record and not full)
                Xj, yj, size = X, y, N
            elif job == 1:
                run = (last or record) and Nv > 0
                Xj, yj, size = Xv, yv, Nv
            else:
                run = not last
                Xj, yj, size = X, y, batch
            if not run:
                continue
            train = job == 2
            flags = (1 + 2 * (record and full)) if train else 2
            order = orders[e % orders.shape[0]] if train else natural
            Nj = Xj.shape[0]
            n_batches = 0
            for m in range(L):
                bsum[m] = 0.0
                correct[m] = 0.0
            for b_start in range(0, Nj, size):
                b_count = size if b_start + size <= Nj else Nj - b_start
                for m in range(L):
                    lsum[m] = 0.0
                for start in range(b_start, b_start + b_count, S):
                    cnt = S if start + S <= b_start + b_count else b_start + b_count - start
                    _gather(Xj, yj, order, start, cnt, S, A, tb)
                    _forward(theta, hyper, sizes, woff, boff, uoff, act_fn, S, cnt, A, D)
                    loss_fn(
                        _row(A, zoff), _row(d1, 0), _ptr(tb), cnt, S, K, L, 1.0 / b_count,
                        _ptr(lsum), _ptr(correct), flags, _row(P, 0), _row(vec, 0),
                    )  # fmt: skip
                    if train:
                        _backward(theta, grad, sizes, woff, boff, uoff, S, cnt, A, D, d1, d2)
                if train:
                    count += 1
                    step_fn(
                        _row(theta, 0), _row(grad, 0), _row(s1, 0), _row(s2, 0), _row(hyper, 0),
                        _ptr(wrows), P_, L, count, decoupled,
                    )  # fmt: skip
                for m in range(L):
                    bsum[m] += lsum[m] / b_count
                n_batches += 1
            if train:
                for m in range(L):
                    epoch_loss[e, m] = bsum[m] / n_batches
                    if record and full:
                        history[e, 0, m] = epoch_loss[e, m]
                        history[e, 1, m] = correct[m] / N
                    bad = False
                    for r in range(P_):
                        v = theta[r, m]
                        bad = bad or not (v - v == 0)
                    params_bad[e, m] = bad
            else:
                for m in range(L):
                    history[e, 2 * job, m] = bsum[m]
                    history[e, 2 * job + 1, m] = correct[m] / Nj
    return count


# --- the driver: a population in block layout -------------------------------------------------
_POOL: tuple[int, int, object] | None = None  # (pid, threads, executor)
_POOL_LOCK = threading.Lock()


def _pool(threads: int):
    """A thread pool kept for the process (made again after a fork or for more threads)."""
    global _POOL
    from concurrent.futures import ThreadPoolExecutor

    with _POOL_LOCK:
        if _POOL is None or _POOL[0] != os.getpid() or _POOL[1] < threads:
            _POOL = (os.getpid(), threads, ThreadPoolExecutor(threads, "initlab-kernels"))
        return _POOL[2]


def n_threads() -> int:
    """Threads for one population's blocks: the cores this process may use.

    One in a child process (a sweep or Dask worker: there the processes are
    the parallelism), else the CPUs this process may run on.
    """
    if multiprocessing.parent_process() is not None:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def _offsets(sizes: tuple[int, ...]):
    woff, boff = [], []
    p = 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        woff.append(p)
        p += n_in * n_out
        boff.append(p)
        p += n_out
    wrows = np.zeros(p, dtype=np.int8)
    for w0, n_in, n_out in zip(woff, sizes[:-1], sizes[1:], strict=True):
        wrows[w0 : w0 + n_in * n_out] = 1
    return p, np.array(woff, np.int64), np.array(boff, np.int64), wrows


class Population:
    """A population's parameters and optimizer state in block layout, and its training calls.

    Built by :class:`initlab.engine.Trainer` for the compiled path, which
    keeps the user layout (:meth:`load` and :meth:`params` convert).
    ``hyper`` maps :data:`HYPER_ROWS` names to scalars or ``(M,)`` arrays.
    """

    def __init__(
        self,
        layer_sizes,
        activation: str,
        loss: str,
        optimizer: str,
        hyper: dict,
        n_models: int,
        dtype,
        lanes: int,
        sample_block: int,
        threads: int | None = None,
    ):
        self.sizes = tuple(int(s) for s in layer_sizes)
        self.dtype = np.dtype(dtype)
        self.M = int(n_models)
        threads = n_threads() if threads is None else max(1, int(threads))
        # fewer lanes for few models (a lone network need not pay for 63 idle lanes) and
        # enough blocks for every thread; a model's numbers do not depend on either
        share = -(-self.M // threads)
        self.L = int(min(lanes, max(8, 1 << (share - 1).bit_length())))
        self.S = int(sample_block)
        self.n_blocks = -(-self.M // self.L)
        self.threads = min(threads, self.n_blocks)
        self.functions = kernel_functions(activation, loss, optimizer, self.dtype)
        self.P, self.woff, self.boff, self.wrows = _offsets(self.sizes)
        self.uoff = np.cumsum([0] + [n * self.S for n in self.sizes]).astype(np.int64)
        self.sizes_arr = np.array(self.sizes, np.int64)
        self.set_hyper(hyper)
        shape = (self.n_blocks, self.P, self.L)
        self.theta = np.zeros(shape, self.dtype)
        moments = {"gd": 0, "adam": 2}.get(optimizer, 1)
        dummy = (self.n_blocks, 1, self.L)
        self.s1 = np.zeros(shape if moments >= 1 else dummy, self.dtype)
        self.s2 = np.zeros(shape if moments >= 2 else dummy, self.dtype)
        self.count = 0
        if self.dtype not in _WARM:  # compile (or load) here, once, not in the threads
            with _COMPILE_LOCK, _quiet():
                X = np.zeros((1, self.sizes[0]), self.dtype)
                self.train(X, np.zeros(1, np.int64), X[:0], np.zeros(0, np.int64),
                           np.zeros((1, 1), np.int64), 0, 1, False, False)  # fmt: skip
            _WARM.add(self.dtype)

    def set_hyper(self, hyper: dict) -> None:
        """Set the hyperparameters (:data:`HYPER_ROWS` names); parameters and optimizer
        state (moments, step count) stay, so training continues with the new values."""
        rows = np.zeros((len(HYPER_ROWS), self.M), self.dtype)
        for r, name in enumerate(HYPER_ROWS):
            value = np.asarray(hyper.get(name, 0.0), dtype=self.dtype).reshape(-1)
            rows[r] = np.broadcast_to(value, (self.M,))
        self.decoupled = int(np.any(rows[_WD] != 0))
        self.hyper = self._blocks(rows, pad="first")  # (n_blocks, H, L)

    def _blocks(self, rows: np.ndarray, pad: str = "zeros") -> np.ndarray:
        """``(R, M)`` as ``(n_blocks, R, L)``; padding lanes zeros, or copies of model 0."""
        R = rows.shape[0]
        full = np.zeros((R, self.n_blocks * self.L), rows.dtype)
        full[:, : self.M] = rows
        if pad == "first" and self.M < full.shape[1]:
            full[:, self.M :] = rows[:, :1]
        return np.ascontiguousarray(full.reshape(R, self.n_blocks, self.L).transpose(1, 0, 2))

    def load(self, params) -> None:
        """Take parameters in the user layout ``[W1 (M, n_in, n_out), b1 (M, n_out), ...]``."""
        flat = np.concatenate([p.reshape(self.M, -1) for p in params], axis=1).T  # (P, M)
        self.theta[...] = self._blocks(np.asarray(flat, dtype=self.dtype))

    def params(self) -> list[np.ndarray]:
        """Parameters in the user layout."""
        flat = self.theta.transpose(1, 0, 2).reshape(self.P, -1)[:, : self.M]  # (P, M)
        out = []
        for layer, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:], strict=True)):
            w0, b0 = self.woff[layer], self.boff[layer]
            W = flat[w0 : w0 + n_in * n_out].T.reshape(self.M, n_in, n_out)
            out += [np.ascontiguousarray(W), np.ascontiguousarray(flat[b0 : b0 + n_out].T)]
        return out

    def _scratch(self):
        """Working arrays of one block (``scratch``, ``stats``, ``tb`` of :func:`train_block`)."""
        L, S, F = self.L, self.S, self.dtype
        rows = int(self.uoff[-1])
        wide = max(self.sizes) * S
        scratch = (
            np.zeros((rows, L), F),
            np.zeros((rows, L), F),
            np.zeros((wide, L), F),
            np.zeros((wide, L), F),
            np.zeros((self.P, L), F),
        )
        stats = (np.zeros((self.sizes[-1], L)), np.zeros((4, L)), *np.zeros((3, L)))
        return scratch, stats, np.zeros(S, np.int64)

    def _parallel(self, fn) -> None:
        """``fn(block)`` for every block, on :attr:`threads` threads."""
        if self.threads == 1:
            for k in range(self.n_blocks):
                fn(k)
            return

        def work(first):
            for k in range(first, self.n_blocks, self.threads):
                fn(k)

        pool = _pool(self.threads)
        for future in [pool.submit(work, t) for t in range(self.threads)]:
            future.result()

    def train(self, X, y, Xv, yv, orders, n_epochs: int, batch: int, record: bool, final: bool):
        """Train ``n_epochs`` epochs (see :func:`train_block`).

        Returns per-epoch losses ``(E, M)``, bad-parameter flags ``(E, M)``
        and the history ``(E + 1, 4, M)`` (train loss, train accuracy, val
        loss, val accuracy; NaN where not computed).
        """
        E = int(n_epochs)
        nb, L = self.n_blocks, self.L
        epoch_loss = np.zeros((nb, E, L))
        params_bad = np.zeros((nb, E, L), np.bool_)
        history = np.full((nb, E + 1, 4, L), np.nan)
        counts = [self.count] * nb
        act_fn, loss_fn, step_fn = self.functions
        natural = np.arange(max(X.shape[0], Xv.shape[0]), dtype=np.int64)

        def fn(k):
            counts[k] = train_block(
                self.theta[k], self.s1[k], self.s2[k], self.hyper[k], self.sizes_arr,
                self.woff, self.boff, self.uoff, self.wrows, act_fn, loss_fn, step_fn,
                self.decoupled, self.count, X, y, Xv, yv, orders, E, batch, self.S,
                int(record), int(final), history[k], epoch_loss[k], params_bad[k],
                *self._scratch(), natural,
            )  # fmt: skip

        self._parallel(fn)
        self.count = counts[0]

        def models(a):  # (nb, ..., L) -> (..., M)
            a = np.moveaxis(a, 0, -2)
            return a.reshape(*a.shape[:-2], nb * L)[..., : self.M]

        return models(epoch_loss), models(params_bad), models(history)


def warm(optimizer: str, activation: str, loss: str, dtype) -> None:
    """Compile or load everything a population of this kind runs (see ``engine.prepare``)."""
    Population((1, 1), activation, loss, optimizer, {}, 1, dtype, 8, 8, threads=1)


def block_shape(layer_sizes, dtype) -> tuple[int, int]:
    """``(lanes, sample_block)`` for a population of these layer sizes.

    Measured (docs/benchmarks.md): enough lanes for several SIMD vectors per
    loop, and a block's working set (parameters, gradient, moments,
    activations of a sample block) within about 256 KiB of L2.
    """
    sizes = [int(s) for s in layer_sizes]
    item = np.dtype(dtype).itemsize
    P = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    units = sum(sizes[1:]) + max(sizes)
    for lanes in (64, 32, 16, 8):
        for block in (32, 16, 8):
            if (4 * P + 2 * units * block) * item * lanes <= 256 * 1024:
                return lanes, block
    return 8, 8
