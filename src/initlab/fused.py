"""BLAS for the dense layers, compiled passes for everything elementwise: wide and deep nets.

:mod:`initlab.kernels` wins for tiny networks, where a layer is a few
multiply-adds per sample; once hidden-to-hidden products appear, BLAS (a
batched ``matmul`` per layer, as in :mod:`initlab.engine`) computes them
faster than any per-lane loop.  What remains of an epoch of the NumPy engine
is elementwise: the bias, the activation and its derivative, the softmax
cross-entropy, the chain-rule products and the bias gradients, one NumPy
ufunc pass each, and NumPy's float64 ``tanh``, ``exp`` and ``log`` are scalar
libm calls on CPUs without AVX-512 (3-9 ns per element).  This module does
that work in a few compiled passes over the engine's feature-major
``(features, M, N)`` planes, with the vectorizable ``exp``/``log``/``tanh``
of :mod:`initlab.kernels`:

- forward, per hidden layer: ``z = x W`` (BLAS), then one pass
  ``a = f(z + b)`` (in place of ``z`` when ``f'`` is a function of ``a``:
  :data:`FROM_OUTPUT`; else ``f'(z + b)`` too, over ``z``);
- output layer (softmax cross-entropy): ``z = x W`` (BLAS), then one pass for
  the bias, the softmax, the loss and accuracy of each model, ``dL/dz / N``
  and its sum over the samples (the bias gradient); other losses use
  :mod:`initlab.losses` as the NumPy engine does;
- backward, per layer: ``dW = a_prev^T delta`` and ``W delta`` (BLAS), then
  one pass ``delta_prev = (W delta) * f'`` that also sums it over the samples.

The math and its order are the NumPy engine's (to rounding: the functions
are within 2 ulp of libm, sums over samples are taken in 8 interleaved
partial sums instead of NumPy's pairwise order), so both agree to ~1e-15
relative after an epoch (``tests/test_kernels.py``); every element of a model
depends on that model only, so its numbers do not depend on its population.
Each pass is compiled once per activation and dtype and cached on disk
(numba ``cache=True``), as the kernels are.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .kernels import (
    _COMPILE_LOCK,
    _JIT,
    _LN2_HI,
    _LN2_LO,
    _LOG2E,
    _ROUND,
    ACTIVATIONS,
    _activate,
    _exp,
    _log,
    _pow2,
    _quiet,
)

__all__ = ["Fused", "FusedCache"]

_LANES = 8  # partial sums of a sum over samples
_TANH = ACTIVATIONS["tanh"]


@intrinsic
def _fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (IEEE fused multiply-add: the same bits on every machine)."""
    sig = types.float64(types.float64, types.float64, types.float64)

    def codegen(context, builder, signature, args):
        d = ir.DoubleType()
        fn = builder.module.declare_intrinsic("llvm.fma", [d], ir.FunctionType(d, [d, d, d]))
        return builder.call(fn, args)

    return sig, codegen


@njit(inline="always", **_JIT)
def _expm1_neg(x):
    """``e ** x - 1`` for ``x <= 0``, the method of :func:`initlab.kernels._expm1` in
    fused multiply-adds (half the instructions: the hidden layers' ``tanh`` is the
    largest elementwise cost of a wide network)."""
    xc = x if x > -40.0 else -40.0
    kf = (xc * _LOG2E + _ROUND) - _ROUND
    r = _fma(-kf, _LN2_HI, xc)
    r = _fma(-kf, _LN2_LO, r)
    p = 1.0 / 6227020800.0
    p = _fma(p, r, 1.0 / 479001600.0)
    p = _fma(p, r, 1.0 / 39916800.0)
    p = _fma(p, r, 1.0 / 3628800.0)
    p = _fma(p, r, 1.0 / 362880.0)
    p = _fma(p, r, 1.0 / 40320.0)
    p = _fma(p, r, 1.0 / 5040.0)
    p = _fma(p, r, 1.0 / 720.0)
    p = _fma(p, r, 1.0 / 120.0)
    p = _fma(p, r, 1.0 / 24.0)
    p = _fma(p, r, 1.0 / 6.0)
    p = _fma(p, r, 0.5)
    p = _fma(p, r, 1.0)
    s = _pow2(np.int64(kf))
    y = _fma(s, p * r, s - 1.0)
    return y if x == x else x


@njit(inline="always", **_JIT)
def _tanh_fd(z):
    """``(tanh z, 1 - tanh^2 z)``: ``tanh = -t / (t + 2)``, ``t = expm1(-2|z|)``."""
    t = _expm1_neg(-2.0 * abs(z))
    y = -t / (t + 2.0)
    a = -y if z < 0.0 else (y if z > 0.0 else z)  # +-0 and NaN as they came
    return a, 1.0 - a * a


#: Activations whose derivative is a function of their output ``a`` (:func:`_df_from_output`):
#: their forward pass keeps ``a`` alone (in place of ``z``), the backward pass computes
#: ``f'`` from it, as the NumPy engine's ``df(z, a)`` does; half the memory traffic of
#: keeping ``f'(z)`` (measured 8-12% of a W3 epoch).
FROM_OUTPUT = ("sigmoid", "tanh", "relu", "leaky_relu", "linear")
_FROM_OUTPUT = tuple(ACTIVATIONS[name] for name in FROM_OUTPUT)


@njit(inline="always", **_JIT)
def _df_from_output(code, a, c):
    """``f'(z)`` from ``a = f(z)``: ``a (1 - a)``, ``1 - a^2``, ``[a > 0]`` (slope ``c``
    otherwise: ``a > 0`` exactly when ``z > 0`` for slopes in [0, 1]; NaN takes the slope, as
    ``z > 0`` is false), 1."""
    if code == 0:
        return (1.0 - a) * a
    if code == 1:
        return 1.0 - a * a
    if code == 2:
        return 1.0 if a > 0.0 else 0.0
    if code == 3:
        return 1.0 if a > 0.0 else c
    return 1.0


def _bias_act(code):
    """Activation ``code`` of ``z = Z + b``: ``f(z)`` into ``Z`` (in place) for
    :data:`FROM_OUTPUT`, else ``f(z)`` into ``A`` and ``f'(z)`` into ``Z``."""
    in_place = code in _FROM_OUTPUT

    def bias_act(Z, b, c, A):
        F, M, N = Z.shape
        for f in range(F):
            for m in range(M):
                bias = b[m, f]
                cm = np.float64(c[m])
                zr = Z[f, m]
                ar = A[f, m]
                for n in range(N):
                    if code == _TANH:
                        a, d = _tanh_fd(np.float64(zr[n] + bias))
                    else:
                        a, d = _activate(code, np.float64(zr[n] + bias), cm)
                    if in_place:
                        zr[n] = a
                    else:
                        ar[n] = a
                        zr[n] = d

    return njit(**_JIT)(bias_act)


def _chain(code):
    """``delta *= f'(z)`` (from ``S = a`` for :data:`FROM_OUTPUT`, else ``S = f'(z)``) and
    ``db[m, f] = sum_n delta[f, m, n]``, activation ``code``."""
    from_output = code in _FROM_OUTPUT

    def chain(delta, S, c, db):
        F, M, N = delta.shape
        acc = np.zeros(_LANES)
        for f in range(F):
            for m in range(M):
                cm = np.float64(c[m])
                dr = delta[f, m]
                sr = S[f, m]
                for n in range(N):
                    if from_output:
                        dr[n] = dr[n] * _df_from_output(code, np.float64(sr[n]), cm)
                    else:
                        dr[n] = dr[n] * sr[n]
                db[m, f] = _sum(dr, acc)

    return njit(**_JIT)(chain)


@njit(inline="always", **_JIT)
def _sum(row, acc):
    """``sum(row)`` in ``_LANES`` interleaved partial sums (vectorizable, deterministic)."""
    N = row.shape[0]
    for j in range(_LANES):
        acc[j] = 0.0
    full = N - N % _LANES
    for n0 in range(0, full, _LANES):
        for j in range(_LANES):
            acc[j] += row[n0 + j]
    for n in range(full, N):
        acc[n - full] += row[n]
    total = 0.0
    for j in range(_LANES):
        total += acc[j]
    return total


@njit(inline="always", **_JIT)
def _softmax(Z, b, m, mx, s, E):
    """``z = Z + b`` (in place), ``mx`` its max over classes, ``E = e^(z - mx)``, ``s`` the sum."""
    K, _, N = Z.shape
    for k in range(K):
        zr = Z[k, m]
        bias = b[m, k]
        for n in range(N):
            zr[n] = zr[n] + bias
    z0 = Z[0, m]
    for n in range(N):
        mx[n] = z0[n]
        s[n] = 0.0
    for k in range(1, K):
        zr = Z[k, m]
        for n in range(N):
            z = zr[n]
            mx[n] = z if (z > mx[n] or z != z) else mx[n]  # NaN propagates, as np.max
    for k in range(K):
        zr = Z[k, m]
        er = E[k, m]
        for n in range(N):
            e = _exp(np.float64(zr[n] - mx[n]))
            er[n] = e
            s[n] += e


@njit(inline="always", **_JIT)
def _hits(P, m, y, best, pred):
    """Samples whose first largest probability (the first NaN, as ``np.argmax``) is ``y``."""
    K, _, N = P.shape
    p0 = P[0, m]
    for n in range(N):
        best[n] = p0[n]
        pred[n] = 0.0
    for k in range(1, K):
        pr = P[k, m]
        for n in range(N):
            p = pr[n]
            better = best[n] == best[n] and (p > best[n] or p != p)
            pred[n] = k if better else pred[n]
            best[n] = p if better else best[n]
    hits = 0.0
    for n in range(N):
        hits += 1.0 if pred[n] == y[n] else 0.0
    return hits


@njit(**_JIT)
def _softmax_ce(Z, b, y, scale, flags, delta, db, loss, correct, mx, s, best, pred):
    """The softmax cross-entropy of every model, from the output layer's ``Z = x W``.

    ``z = Z + b``; ``loss[m]`` the mean of ``log sum e^(z - max) - (z_y -
    max)``; ``correct[m]`` the share of samples whose prediction is the label
    (``flags & 2``); ``delta = (p - onehot) * scale`` and ``db[m, k] = sum_n
    delta[k, m, n]`` (``flags & 1``).  ``mx``, ``s``, ``best``, ``pred`` are
    scratch ``(N,)``.
    """
    K, M, N = Z.shape
    acc = np.zeros(_LANES)
    for m in range(M):
        _softmax(Z, b, m, mx, s, delta)
        lsum = 0.0
        for n in range(N):
            lsum += _log(s[n]) - np.float64(Z[y[n], m, n] - mx[n])
        loss[m] = lsum / N
        for k in range(K):  # p = e / s
            er = delta[k, m]
            for n in range(N):
                er[n] = er[n] / s[n]
        if flags & 2:
            correct[m] = _hits(delta, m, y, best, pred) / N
        if flags & 1:
            for k in range(K):
                dr = delta[k, m]
                for n in range(N):
                    dr[n] = (dr[n] - (1.0 if y[n] == k else 0.0)) * scale
                db[m, k] = _sum(dr, acc)


_PASSES: dict[int, tuple] = {}
_WARM: set = set()  # (activation, dtype) compiled or loaded in this process


def passes(activation: str) -> tuple:
    """The compiled ``(bias + activation, chain rule)`` passes of ``activation`` (made once)."""
    code = ACTIVATIONS[activation]
    fns = _PASSES.get(code)
    if fns is None:
        fns = _PASSES[code] = (_bias_act(code), _chain(code))
    return fns


def warm(activation: str, loss: str, dtype) -> None:
    """Compile (or load from numba's cache) every pass a population of this kind runs."""
    F = np.dtype(dtype)
    key = (activation, F.name)
    if key in _WARM:
        return
    with _COMPILE_LOCK, _quiet():
        z, a, b = np.zeros((1, 1, 1), F), np.zeros((1, 1, 1), F), np.zeros((1, 1), F)
        act, chain = passes(activation)
        act(z, b, np.zeros(1, F), a)
        chain(z, a, np.zeros(1, F), b)
        if loss == "cross_entropy":
            y, s = np.zeros(1, np.int64), np.zeros(1)
            _softmax_ce(z, b, y, 1.0, 3, a, b, np.zeros(1), np.zeros(1), s, s, s, s)
    _WARM.add(key)


@dataclass
class FusedCache:
    """What :meth:`Fused.forward` keeps: per-model mean loss and accuracy, what backward needs."""

    inputs: np.ndarray  # (d, N)
    acts: list[np.ndarray]  # hidden activations (n_out, M, N)
    derivs: list[np.ndarray]  # what the chain rule multiplies by: f'(z), or a (FROM_OUTPUT)
    delta: np.ndarray | None  # dL/dz / N of the output layer (K, M, N)
    db_out: np.ndarray | None  # its sum over the samples (M, K)
    loss: np.ndarray  # mean loss (M,)
    acc: np.ndarray | None  # accuracy (M,), when asked for


class Fused:
    """Forward and backward of an :class:`initlab.engine.Population` with fused passes."""

    def __init__(self, population):
        self.pop = population
        self.act = population.activation
        params = list(self.act.params.values())
        c = np.asarray(params[0] if params else 0.0, population.dtype).reshape(-1)
        self.c = np.ascontiguousarray(np.broadcast_to(c, (population.n_models,)))
        self._bias_act, self._chain = passes(self.act.name)
        self.in_place = self.act.name in FROM_OUTPUT
        self.ce = population.loss.name == "cross_entropy"
        warm(self.act.name, population.loss.name, population.dtype)

    def forward(self, params, x, y, t, buffers, need_delta=True, need_acc=False) -> FusedCache:
        """Every model on inputs ``x`` ``(d, N)`` with labels ``y`` ``(N,)``, targets ``t``."""
        pop = self.pop
        M, N, F = pop.n_models, x.shape[-1], pop.dtype
        h = x
        acts, derivs = [], []
        for layer in range(pop.n_layers):
            W, b = params[2 * layer], params[2 * layer + 1]
            z = buffers.get(f"z{layer}", (W.shape[2], M, N), F)
            xm = h if h.ndim == 2 else h.transpose(1, 0, 2)
            np.matmul(W.transpose(0, 2, 1), xm, out=z.transpose(1, 0, 2))
            if layer < pop.n_layers - 1:
                a = z if self.in_place else buffers.get(f"a{layer}", z.shape, F)
                self._bias_act(z, b, self.c, a)
                acts.append(a)
                derivs.append(z)
                h = a
        if self.ce:
            return self._ce(x, z, b, y, acts, derivs, buffers, need_delta, need_acc)
        z += b.T[:, :, None]
        p, per_sample = pop.loss.forward(z, t, 0, out=buffers.get("proba", z.shape, F))
        cache = FusedCache(x, acts, derivs, None, None, per_sample.mean(axis=-1), None)
        if need_acc:
            from .engine import accuracy

            cache.acc = accuracy(pop.loss, p, y, cache.loss)
        if need_delta:
            delta = pop.loss.delta(z, p, t, 0, out=buffers.get("delta_out", z.shape, F))
            delta *= F.type(1.0 / N)
            cache.delta, cache.db_out = delta, delta.sum(axis=-1).T
        return cache

    def _ce(self, x, z, b, y, acts, derivs, buffers, need_delta, need_acc) -> FusedCache:
        M, N, F = self.pop.n_models, x.shape[-1], self.pop.dtype
        K = z.shape[0]
        delta = buffers.get("delta_out", z.shape, F)
        db = np.empty((M, K), F)
        loss, acc = np.empty(M), np.empty(M)
        scratch = [buffers.get(f"ce{i}", (N,), np.float64) for i in range(4)]
        flags = (1 if need_delta else 0) | (2 if need_acc else 0)
        scale = float(F.type(1.0 / N))
        _softmax_ce(z, b, y, scale, flags, delta, db, loss, acc, *scratch)
        return FusedCache(
            x, acts, derivs, delta if need_delta else None, db if need_delta else None,
            loss, acc if need_acc else None,
        )  # fmt: skip

    def backward(self, params, cache: FusedCache, buffers) -> list[np.ndarray]:
        """Gradients ``[dW1, db1, ...]`` of each model's mean loss (the chain rule, fused)."""
        pop = self.pop
        delta, db = cache.delta, cache.db_out
        grads: list[np.ndarray] = [None] * (2 * pop.n_layers)  # type: ignore[list-item]
        for layer in reversed(range(pop.n_layers)):
            W = params[2 * layer]
            a_prev = cache.inputs if layer == 0 else cache.acts[layer - 1]
            am = a_prev if a_prev.ndim == 2 else a_prev.transpose(1, 0, 2)
            grads[2 * layer] = np.matmul(am, delta.transpose(1, 2, 0))
            grads[2 * layer + 1] = db
            if layer > 0:
                out = buffers.get(f"delta{layer - 1}", (W.shape[1],) + delta.shape[1:], pop.dtype)
                np.matmul(W, delta.transpose(1, 0, 2), out=out.transpose(1, 0, 2))
                db = np.empty((pop.n_models, W.shape[1]), pop.dtype)
                self._chain(out, cache.derivs[layer - 1], self.c, db)
                delta = out
        return grads
