"""Forward, backward and training for a population of ``M`` networks at once.

A :class:`Population` is ``M`` feedforward networks with the same layer sizes,
hidden activation and loss; each has its own weights, and may have its own
initializer, seed, learning rate, optimizer hyperparameters and leaky slope
(per-model hyperparameters are arrays of shape ``(M,)``).  A single network
is ``M == 1``: the estimator, the sweeps and the playground all run this one
code path.

Layouts
-------
Parameters, as the user sees them: ``W[l]`` has shape ``(M, n_in, n_out)``
(``X @ W``, as scikit-learn's ``coefs_``) and ``b[l]`` shape ``(M, n_out)``;
``params`` is the flat list ``[W1, b1, W2, b2, ...]``.

Activations inside the engine are *feature-major*: ``(features, M, N)``.
Each unit's values for all models and samples form one contiguous plane, so
a layer a few units wide is a handful of fused multiply-adds over long
arrays instead of many tiny matrix products, reductions over units are sums
of planes, and wide layers still go to BLAS as one batched ``matmul`` over
strided views.  :meth:`Population.trace` returns the public ``(M, N, F)``
layout.

Backpropagation is a visible loop over layers (see :meth:`Population.backward`).

Engines
-------
This module is the reference implementation.  :class:`Trainer` can also
train with the compiled kernels of :mod:`initlab.kernels` (numba), the same
math fused into one call per block of models (``engine="numba"``), or with
:mod:`initlab.fused`: this module's BLAS products and compiled passes for
the elementwise work between them (``engine="fused"``, for wide and deep
networks).  ``engine="auto"`` (the default) uses them where they are
measured to be faster (:func:`choose_engine`), ``engine="numpy"`` never; the
environment variable ``INITLAB_ENGINE`` replaces ``"auto"``.  Both engines
agree to rounding (about 1e-15 relative after one epoch in float64); the
choice depends only on the configuration, so a run's numbers are the same on
every executor.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import activations as _activations
from . import initializers as _initializers
from . import losses as _losses
from .errors import ConfigError
from .optim import GradientTransformation, check_hyperparameter

__all__ = [
    "Population",
    "Trainer",
    "TrainResult",
    "init_params",
    "lsuv",
    "SMALL_LAYER",
    "ENGINES",
    "FAST_PATH",
    "DIVERGENCE_FACTOR",
    "DIVERGENCE_FLOOR",
    "choose_engine",
    "engine_for",
    "compiled_wins",
    "fused_wins",
    "FUSED_MIN_WORK",
    "population_size",
    "prepare",
    "weight_penalty",
]

# A layer with n_in * n_out at most this many weights is computed as explicit
# multiply-adds over (M, N) planes; larger ones as a batched BLAS matmul.
# Measured (docs/benchmarks.md): with one BLAS thread the batched matmul is faster
# even for 2 x 2 layers at N = 750 (0.21 vs 0.29 ms for 64 models) and 3-4x faster at
# 4 x 4; the planes win only for tiny layers on tiny batches (N = 32, 4096 models).
# The threshold stays at 16 because BLAS rounds differently (FMA), and chaotic
# trajectories (GD with eta 1 from N(0, 1) weights) then drift apart by ~1e-9 in 30
# epochs: the blog's [2, 2, 4] numbers would no longer be bit-for-bit the same.
SMALL_LAYER = 16

ENGINES = ("auto", "numpy", "numba", "fused")
#: What the compiled kernels (:mod:`initlab.kernels`) implement; anything else is
#: trained by this module.  Optimizers are named by their ``recipe``.
FAST_PATH = {
    "activations": (
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
        "elu",
        "selu",
        "gelu",
        "silu",
        "softplus",
        "mish",
        "linear",
    ),
    "losses": ("cross_entropy", "binary_cross_entropy", "mse"),
    "optimizers": ("gd", "momentum", "nag", "adagrad", "rmsprop", "adam"),
}

# A run has diverged when its loss or parameters are inf/NaN, or when its training loss
# exceeds max(DIVERGENCE_FACTOR * initial loss, DIVERGENCE_FLOOR).  Measured on every
# preset (docs/benchmarks.md): runs that recover spike to at most 494 (68x their initial
# loss: NAG at eta = 1, back to 0.30 and 91% accuracy), while runs that blow up pass 1e4
# and stay there for many epochs before they overflow, if they ever do: momentum and NAG
# at eta = 1 on leaky ReLU reach 7.6e4 to 2.4e9 and end at 26-72% accuracy; 24-layer
# ReLU nets from N(0, 1) weights jump from 1e4 to 1e178 in two epochs.  A cross-entropy of
# 1e4 means the true class's logit is ten thousand below the winner's.  The factor keeps
# networks that start with a huge loss (N(0, 1) weights in deep ReLU nets: 1e4 to 4e9)
# from being flagged at once.
DIVERGENCE_FACTOR = 1e3
DIVERGENCE_FLOOR = 1e4
DIVERGENCE_RULE = (
    f"its loss or weights became inf/NaN, or its training loss passed max({DIVERGENCE_FACTOR:g} x "
    f"its initial loss, {DIVERGENCE_FLOOR:g})"
)  # the rule in words, for every table, legend and warning that reports divergence

_CONTROLLER = None


def one_blas_thread():
    """A context in which BLAS runs on one thread.

    Training uses it: the parallelism for many networks is across populations
    (processes, Dask workers), multi-threaded BLAS rounds wide products
    differently from single-threaded BLAS (so executors would disagree in the
    last bits), and on a busy machine its spinning threads can make small
    products a hundred times slower.
    """
    global _CONTROLLER
    try:
        if _CONTROLLER is None:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER = ThreadpoolController()
        return _CONTROLLER.limit(limits=1, user_api="blas")
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        import contextlib

        return contextlib.nullcontext()


_ERRSTATE = dict(over="ignore", invalid="ignore", divide="ignore", under="ignore")


class Buffers:
    """Named scratch arrays reused from one step to the next.

    Allocating a fresh multi-megabyte array every step costs page faults (on the
    benchmark machine, up to ~15 ns per element, more than an ``exp``); a
    :class:`Trainer` keeps one ``Buffers`` so that the step's big arrays are
    allocated once.  Arrays handed out are overwritten by the next step, so
    only hot loops that consume them at once use this; ``Buffers(None)`` (the
    default everywhere) allocates fresh arrays.
    """

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._arrays: dict[tuple, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        if not self.enabled:
            return np.empty(shape, dtype=dtype)
        key = (name, shape, np.dtype(dtype))
        arr = self._arrays.get(key)
        if arr is None:
            arr = self._arrays[key] = np.empty(shape, dtype=dtype)
        return arr


_FRESH = Buffers(enabled=False)


def weight_penalty(params, l1=0.0, l2=0.0, grads=None) -> np.ndarray:
    """``l1 * sum|W| + (l2 / 2) * sum W^2`` per model, over the weights (not the biases).

    The elastic-net penalty of TF Playground and of torch's ``weight_decay``
    (for ``l2``): its gradient ``l1 * sign(W) + l2 * W`` is added to ``grads``
    (the weight entries ``grads[0::2]``, in place) when given.  ``l1`` and
    ``l2`` are scalars or per-model ``(M,)`` arrays.
    """
    M = params[0].shape[0]
    total = np.zeros(M, dtype=params[0].dtype)
    for k in range(0, len(params), 2):
        W = params[k]
        lw1 = _per_model_hyper(l1, W)
        lw2 = _per_model_hyper(l2, W)
        flat = W.reshape(M, -1)
        if np.any(lw1 != 0):
            total += lw1.reshape(-1) * np.abs(flat).sum(axis=1)
            if grads is not None:
                grads[k] += lw1 * np.sign(W)
        if np.any(lw2 != 0):
            total += (lw2.reshape(-1) / 2) * (flat * flat).sum(axis=1)
            if grads is not None:
                grads[k] += lw2 * W
    return total


def _per_model_hyper(value, W: np.ndarray) -> np.ndarray:
    """A scalar or ``(M,)`` hyperparameter shaped to broadcast over ``W`` ``(M, ...)``."""
    v = np.asarray(value, dtype=W.dtype)
    return v.reshape((-1,) + (1,) * (W.ndim - 1)) if v.ndim else v


@dataclass
class Cache:
    """What the forward pass keeps for the backward pass (feature-major)."""

    inputs: np.ndarray  # (d, N), shared by every model
    zs: list[np.ndarray]  # pre-activations, (n_out, M, N) per layer
    acts: list[np.ndarray]  # hidden activations, (n_out, M, N) per hidden layer
    proba: np.ndarray  # output probabilities (K, M, N)
    loss: np.ndarray  # per-sample loss (M, N)


class Population:
    """``M`` networks with shared layer sizes, hidden activation and loss.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``(n_features, hidden_1, ..., n_outputs)``.
    activation : str or Activation
        Hidden-layer nonlinearity; array-valued hyperparameters (a leaky
        slope per model) must have shape ``(M,)``.
    loss : str or Loss
        Output nonlinearity and loss (``cross_entropy``: softmax).
    n_models : int
        ``M``.
    dtype : {"float64", "float32"}
    """

    def __init__(
        self,
        layer_sizes: Sequence[int],
        activation: str | _activations.Activation = "relu",
        loss: str | _losses.Loss = "cross_entropy",
        n_models: int = 1,
        dtype="float64",
    ):
        self.layer_sizes = tuple(int(s) for s in layer_sizes)
        if len(self.layer_sizes) < 2 or min(self.layer_sizes) < 1:
            raise ValueError(
                f"layer sizes must be at least 2 positive integers (inputs, outputs), "
                f"got {list(layer_sizes)}"
            )
        self.n_models = int(n_models)
        if self.n_models < 1:
            raise ValueError(f"n_models must be >= 1, got {n_models}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float64, np.float32):
            raise ValueError(f"dtype must be float64 or float32, got {dtype!r}")
        act = _activations.get(activation)
        # per-model hyperparameters broadcast over feature-major (F, M, N) as (M, 1)
        bound = {}
        for key, value in act.params.items():
            arr = np.asarray(value, dtype=self.dtype)
            if arr.ndim == 1:
                if arr.shape[0] != self.n_models:
                    raise ValueError(
                        f"{act.name} {key} has {arr.shape[0]} values for {self.n_models} models"
                    )
                bound[key] = arr[:, None]
            else:
                bound[key] = self.dtype.type(value)
        self.activation = act.bind(**bound) if bound else act
        self.loss = _losses.get(loss)

    @property
    def n_layers(self) -> int:
        return len(self.layer_sizes) - 1

    @property
    def n_classes(self) -> int:
        k = self.layer_sizes[-1]
        return 2 if self.loss.binary else k

    def param_shapes(self) -> list[tuple[int, ...]]:
        shapes = []
        for n_in, n_out in zip(self.layer_sizes[:-1], self.layer_sizes[1:], strict=True):
            shapes += [(self.n_models, n_in, n_out), (self.n_models, n_out)]
        return shapes

    # -- forward ------------------------------------------------------------------------------
    def _dense(
        self, x: np.ndarray, W: np.ndarray, b: np.ndarray, z: np.ndarray, buffers: Buffers
    ) -> np.ndarray:
        """``z[o, m, n] = sum_i x[i, m, n] W[m, i, o] + b[m, o]``, into ``z``.

        ``x`` is ``(n_in, M, N)`` or, for the first layer, ``(n_in, N)`` shared
        by every model.
        """
        n_in, n_out = W.shape[1], W.shape[2]
        N = x.shape[-1]
        if n_in * n_out <= SMALL_LAYER:
            tmp = buffers.get("plane", (self.n_models, N), self.dtype)
            for o in range(n_out):
                np.multiply(W[:, 0, o, None], x[0], out=z[o])
                for i in range(1, n_in):
                    np.multiply(W[:, i, o, None], x[i], out=tmp)
                    z[o] += tmp
        else:
            xm = x if x.ndim == 2 else x.transpose(1, 0, 2)  # (n_in, N) or (M, n_in, N)
            np.matmul(W.transpose(0, 2, 1), xm, out=z.transpose(1, 0, 2))
        z += b.T[:, :, None]
        return z

    def forward(
        self, params: Sequence[np.ndarray], X: np.ndarray, y=None, buffers: Buffers = _FRESH
    ) -> Cache:
        """Run every model on ``X`` (``(N, d)``, or ``(d, N)`` if already transposed).

        ``y`` (targets from :meth:`targets`, feature-major) adds the per-sample loss.
        ``buffers`` (for training loops) reuses the big arrays of the previous call.
        """
        x = self._as_inputs(X)
        zs, acts = [], []
        h = x
        N = x.shape[-1]
        for layer in range(self.n_layers):
            W, b = params[2 * layer], params[2 * layer + 1]
            z = buffers.get(f"z{layer}", (W.shape[2], self.n_models, N), self.dtype)
            z = self._dense(h, W, b, z, buffers)
            zs.append(z)
            if layer < self.n_layers - 1:
                h = self.activation(z, out=buffers.get(f"a{layer}", z.shape, self.dtype))
                acts.append(h)
        if y is None:
            proba, loss = self.loss.output(zs[-1], 0), None
        else:
            p = buffers.get("proba", zs[-1].shape, self.dtype)
            proba, loss = self.loss.forward(zs[-1], y, 0, out=p)
        return Cache(x, zs, acts, proba, loss)

    def _as_inputs(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=self.dtype)
        d = self.layer_sizes[0]
        if X.ndim == 2 and X.shape[1] == d and not (X.shape[0] == d and X.flags.f_contiguous):
            return np.ascontiguousarray(X.T)
        if X.ndim == 2 and X.shape[0] == d:
            return X
        raise ValueError(f"X has shape {X.shape}; the networks expect {d} features")

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Integer labels ``(N,)`` as feature-major targets ``(K, 1, N)``."""
        t = self.loss.targets(np.asarray(y), self.n_classes, self.dtype, axis=0)
        return t[:, None, :]

    # -- backward -----------------------------------------------------------------------------
    def backward(
        self,
        params: Sequence[np.ndarray],
        cache: Cache,
        y: np.ndarray,
        buffers: Buffers = _FRESH,
    ):
        """Gradients of the mean loss of each model, ``[dW1, db1, dW2, db2, ...]``.

        The chain rule, one layer at a time from the output down:
        ``delta_L = dL/dz_L`` (from the loss), then for each layer
        ``dW = a_prev^T delta``, ``db = sum(delta)``,
        ``delta_prev = (delta W^T) * act'(z_prev)``.
        """
        N = cache.inputs.shape[-1]
        zL = cache.zs[-1]
        delta = buffers.get(f"delta{self.n_layers - 1}", zL.shape, self.dtype)
        delta = self.loss.delta(zL, cache.proba, y, 0, out=delta)  # (K, M, N)
        delta *= self.dtype.type(1.0 / N)  # mean over the batch
        grads: list[np.ndarray] = [None] * (2 * self.n_layers)  # type: ignore[list-item]
        for layer in reversed(range(self.n_layers)):
            W = params[2 * layer]
            a_prev = cache.inputs if layer == 0 else cache.acts[layer - 1]
            grads[2 * layer] = self._weight_grad(a_prev, delta, W.shape)
            grads[2 * layer + 1] = delta.sum(axis=-1).T  # (M, n_out)
            if layer > 0:
                out = buffers.get(f"delta{layer - 1}", (W.shape[1],) + delta.shape[1:], self.dtype)
                delta = self._backprop_delta(W, delta, out, buffers)
                z_prev = cache.zs[layer - 1]
                scratch = buffers.get("act_grad", z_prev.shape, self.dtype)
                delta *= self.activation.grad(z_prev, cache.acts[layer - 1], out=scratch)
        return grads

    def _weight_grad(self, a_prev, delta, shape):
        """``dW[m, i, o] = sum_n a_prev[i, m, n] delta[o, m, n]``."""
        M, n_in, n_out = shape
        if n_in * n_out <= SMALL_LAYER:
            g = np.empty(shape, dtype=self.dtype)
            for i in range(n_in):
                for o in range(n_out):
                    if a_prev.ndim == 2:  # shared inputs (N,)
                        # einsum, not a BLAS gemv, whose rounding depends on M: a run's
                        # numbers must not depend on how many models share its population
                        g[:, i, o] = np.einsum("mn,n->m", delta[o], a_prev[i])
                    else:
                        g[:, i, o] = np.einsum("mn,mn->m", a_prev[i], delta[o])
            return g
        am = a_prev if a_prev.ndim == 2 else a_prev.transpose(1, 0, 2)  # (.., n_in, N)
        return np.matmul(am, delta.transpose(1, 2, 0))

    def _backprop_delta(self, W, delta, out=None, buffers: Buffers = _FRESH):
        """``d[i, m, n] = sum_o W[m, i, o] delta[o, m, n]`` (into ``out`` if given)."""
        M, n_in, n_out = W.shape
        N = delta.shape[-1]
        if out is None:
            out = np.empty((n_in, M, N), dtype=self.dtype)
        if n_in * n_out <= SMALL_LAYER:
            tmp = buffers.get("plane", (M, N), self.dtype)
            for i in range(n_in):
                np.multiply(W[:, i, 0, None], delta[0], out=out[i])
                for o in range(1, n_out):
                    np.multiply(W[:, i, o, None], delta[o], out=tmp)
                    out[i] += tmp
        else:
            np.matmul(W, delta.transpose(1, 0, 2), out=out.transpose(1, 0, 2))
        return out

    # -- user-facing helpers ------------------------------------------------------------------
    def loss_and_grads(self, params, X, y, l1=0.0, l2=0.0):
        """Mean loss per model ``(M,)`` and its gradients, for gradient checks and diagnostics.

        With ``l1``/``l2`` the objective is the mean loss plus
        :func:`weight_penalty`, and the gradients are those of that sum.
        """
        t = self.targets(y)
        with np.errstate(**_ERRSTATE):
            cache = self.forward(params, X, t)
            grads = self.backward(params, cache, t)
            loss = cache.loss.mean(axis=-1)
            if np.any(np.asarray(l1) != 0) or np.any(np.asarray(l2) != 0):
                loss = loss + weight_penalty(params, l1, l2, grads)
            return loss, grads

    def predict(self, params, X) -> np.ndarray:
        """The outputs themselves, ``(M, N, n_outputs)`` (a regression's predictions)."""
        with np.errstate(**_ERRSTATE):
            z = self.forward(params, X).zs[-1]
            return np.moveaxis(self.loss.output(z, 0), 0, -1)

    def predict_proba(self, params, X) -> np.ndarray:
        """Class probabilities, ``(M, N, n_classes)``."""
        with np.errstate(**_ERRSTATE):
            z = self.forward(params, X).zs[-1]
            return np.moveaxis(self.loss.predict_proba(z, 0), 0, -1)

    def trace(self, params, X, y=None) -> dict[str, list[np.ndarray]]:
        """Per-layer pre-activations, activations and (with ``y``) gradients, ``(M, N, F)``.

        Returns a dict with lists indexed by layer: ``"z"`` pre-activations,
        ``"a"`` outputs (hidden activation, or the output probabilities for
        the last layer), and when ``y`` is given ``"delta"`` (d loss / d z,
        for the mean loss over the batch) and ``"dW"``/``"db"`` weight and bias
        gradients (``(M, n_in, n_out)``/``(M, n_out)``).
        """
        with np.errstate(**_ERRSTATE):
            t = None if y is None else self.targets(y)
            cache = self.forward(params, X, t)
            out = {
                "z": [np.moveaxis(z, 0, -1) for z in cache.zs],
                "a": [np.moveaxis(a, 0, -1) for a in cache.acts]
                + [np.moveaxis(cache.proba, 0, -1)],
            }
            if t is None:
                return out
            deltas = []
            N = cache.inputs.shape[-1]
            delta = self.loss.delta(cache.zs[-1], cache.proba, t, 0) * self.dtype.type(1.0 / N)
            for layer in reversed(range(self.n_layers)):
                deltas.append(delta)
                if layer > 0:
                    delta = self._backprop_delta(params[2 * layer], delta)
                    delta *= self.activation.grad(cache.zs[layer - 1], cache.acts[layer - 1])
            out["delta"] = [np.moveaxis(d, 0, -1) for d in reversed(deltas)]
            grads = self.backward(params, cache, t)
            out["dW"], out["db"] = grads[0::2], grads[1::2]
            return out


def accuracy(loss: _losses.Loss, proba: np.ndarray, y: np.ndarray, mean_loss: np.ndarray):
    """Per model, the share of samples whose prediction is the label ``y`` ``(N,)``, from the
    output ``proba`` ``(K, M, N)`` of ``loss`` and each model's ``mean_loss`` (NaN for a
    regression: there the loss is the measure)."""
    if loss.regression:
        return np.full(mean_loss.shape, np.nan)
    if loss.binary:
        pred = (proba[0] > 0.5).astype(np.int64)
    elif np.isfinite(mean_loss).all():
        pred = _argmax_planes(proba)
    else:  # NaN probabilities: argmax's NaN-first rule
        pred = proba.argmax(axis=0)
    return (pred == y).mean(axis=-1)


def _argmax_planes(p: np.ndarray) -> np.ndarray:
    """``p.argmax(axis=0)`` for NaN-free ``(K, M, N)``, by K - 1 plane comparisons.

    NumPy's argmax over a short leading axis costs ~8 ns per element (it copies
    to make the axis contiguous); this costs ~1.  Ties go to the first class,
    as argmax.
    """
    pred = np.zeros(p.shape[1:], dtype=np.intp)
    best = p[0].copy()
    better = np.empty(p.shape[1:], dtype=bool)
    for k in range(1, p.shape[0]):
        np.greater(p[k], best, out=better)
        np.maximum(best, p[k], out=best)
        pred[better] = k
    return pred


def _per_model(value, n: int, label: str) -> list:
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"{label} has {len(value)} entries for {n} models")
        return list(value)
    return [value] * n


def init_params(
    population: Population,
    seeds: int | Sequence[int],
    init="he_normal",
    bias_init="zeros",
    rng_kind: str = "generator",
    X: np.ndarray | None = None,
    lsuv_options: dict | None = None,
) -> list[np.ndarray]:
    """Initial parameters ``[W1, b1, ...]`` for every model of a population.

    Each model draws from its own generator, seeded by its own seed, layer by
    layer (``W1, b1, W2, b2, ...``), so a model's initial weights depend only
    on its configuration, never on which population it is trained in.  With
    ``rng_kind="legacy"`` and the blog's recipe this is exactly the blog's
    ``np.random.seed(0); W1 = randn(...); B1 = randn(...); ...``.

    ``init`` and ``bias_init`` are names, initializer objects, or lists with
    one entry per model.  ``lsuv`` needs ``X``.
    """
    M = population.n_models
    seeds = _per_model(seeds, M, "seeds") if not isinstance(seeds, int) else [seeds] * M
    inits = [_initializers.get(i) for i in _per_model(init, M, "init")]
    biases = [_initializers.get_bias(b) for b in _per_model(bias_init, M, "bias_init")]
    dtype = population.dtype
    per_model = []
    for seed, w_init, b_init in zip(seeds, inits, biases, strict=True):
        rng = _initializers.make_rng(seed, rng_kind)
        layers = []
        for n_in, n_out in zip(
            population.layer_sizes[:-1], population.layer_sizes[1:], strict=True
        ):
            layers.append(w_init(rng, (n_in, n_out), dtype))
            layers.append(b_init(rng, (n_out,), dtype))
        per_model.append(layers)
    params = [np.stack([m[k] for m in per_model]) for k in range(2 * population.n_layers)]
    needs_lsuv = np.array([i.data_dependent for i in inits])
    if needs_lsuv.any():
        if X is None:
            raise ValueError("the 'lsuv' initializer needs data: pass X")
        params = lsuv(population, params, X, mask=needs_lsuv, **(lsuv_options or {}))
    return params


def lsuv(
    population: Population,
    params: Sequence[np.ndarray],
    X: np.ndarray,
    tol: float = 0.1,
    max_iter: int = 10,
    mask: np.ndarray | None = None,
    max_samples: int = 1024,
) -> list[np.ndarray]:
    """Layer-sequential unit-variance rescaling (Mishkin & Matas 2015).

    Starting from orthogonal weights, for each layer in turn, divide its
    weights by the standard deviation of its pre-activations on a batch of
    data until that variance is within ``tol`` of 1 (at most ``max_iter``
    passes per layer).  Only models with ``mask`` true are rescaled.
    """
    params = [p.copy() for p in params]
    mask = np.ones(population.n_models, bool) if mask is None else np.asarray(mask, bool)
    x = np.asarray(X, dtype=population.dtype)[:max_samples]
    with np.errstate(**_ERRSTATE):
        for layer in range(population.n_layers):
            for _ in range(max_iter):
                z = population.forward(params, x).zs[layer]  # (n_out, M, N)
                var = z.transpose(1, 0, 2).reshape(population.n_models, -1).var(axis=1)
                todo = mask & np.isfinite(var) & (var > 0) & (np.abs(var - 1) > tol)
                if not todo.any():
                    break
                scale = np.where(todo, 1 / np.sqrt(np.where(todo, var, 1)), 1).astype(
                    population.dtype
                )
                params[2 * layer] *= scale[:, None, None]
    return params


@dataclass
class TrainResult:
    """What :class:`Trainer` produces.

    ``history`` maps metric names (``train_loss``, ``train_acc``, ``val_loss``,
    ``val_acc``) to arrays of shape ``(epochs + 1, M)``: row ``e`` is the
    state after ``e`` epochs (row 0 is the initial network).  ``diverged_epoch``
    is -1 for models that never diverged, else the first epoch ``e`` whose
    state had an inf/NaN loss or parameter, or a training loss above the
    divergence limit (see :class:`Trainer`).  ``engine`` is the engine that
    trained it (``"numpy"``, ``"numba"`` or ``"fused"``).
    """

    params: list[np.ndarray]
    history: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_epoch: np.ndarray
    epochs: int
    snapshots: np.ndarray | None = None
    extra: dict = field(default_factory=dict)
    engine: str = "numpy"


def _numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def _fast_path_gaps(activation: str, loss: str, optimizer: str | None, engine="numba") -> list[str]:
    """Why ``engine`` (``"numba"`` or ``"fused"``) cannot train such a population (empty if
    it can).  The fused passes cover the activations; losses and optimizers they leave to
    NumPy."""
    gaps = []
    if not _numba_available():
        gaps.append("numba is not installed (pip install numba)")
    if activation not in FAST_PATH["activations"]:
        gaps.append(f"activation {activation!r} has no compiled kernel")
    if engine == "fused":
        return gaps
    if loss not in FAST_PATH["losses"]:
        gaps.append(f"loss {loss!r} has no compiled kernel")
    if optimizer is None or optimizer not in FAST_PATH["optimizers"]:
        gaps.append("the optimizer is not one of initlab.optim's (it has no recipe)")
    return gaps


def choose_engine(
    population: Population,
    optimizer: GradientTransformation,
    engine: str = "auto",
    sample_epochs: int | None = None,
) -> str:
    """The engine that trains ``population``: ``"numpy"``, ``"numba"`` or ``"fused"``.

    ``"auto"`` (replaced by ``$INITLAB_ENGINE`` when that is set) picks
    compiled code only for runs long enough to repay the one-time compile
    (``sample_epochs`` is epochs x training samples of each run, None when
    unknown): the kernels for the small networks they are measured to be
    faster for (:func:`compiled_wins`), the fused passes for larger ones
    (:func:`fused_wins`), NumPy otherwise.  ``"numba"`` and ``"fused"``
    raise a :class:`~initlab.errors.ConfigError` saying why when they cannot
    train it.  The choice depends only on the
    configuration, never on the machine's state, so every executor trains a
    run with the same engine and gets the same bits.
    """
    recipe = getattr(optimizer, "recipe", None)
    return engine_for(
        population.layer_sizes,
        population.activation.name,
        population.loss.name,
        None if recipe is None else recipe[0],
        engine,
        sample_epochs,
    )


def engine_for(
    layer_sizes,
    activation: str,
    loss: str,
    optimizer: str | None,
    engine="auto",
    sample_epochs: int | None = None,
):
    """:func:`choose_engine` by names; ``optimizer`` is the name in an optimizer's ``recipe``
    (``"gd"`` for minibatch, ``"adam"`` for adamw; None for other transformations)."""
    if optimizer == "adamw":
        optimizer = "adam"
    if engine == "auto":
        engine = os.environ.get("INITLAB_ENGINE", "auto").strip().lower() or "auto"
        source = "INITLAB_ENGINE"
    else:
        source = "engine"
    if engine not in ENGINES:
        raise ConfigError(
            f"{source} must be one of {', '.join(ENGINES)}, got {engine!r}", field="engine"
        )
    if engine == "numpy":
        return "numpy"
    if engine in ("numba", "fused"):
        gaps = _fast_path_gaps(activation, loss, optimizer, engine)
        if gaps:
            raise ConfigError(
                f"engine {engine!r} cannot train this population: {'; '.join(gaps)}; "
                "use engine='auto' or 'numpy'",
                field="engine",
            )
        return engine
    if compiled_wins(layer_sizes, sample_epochs):
        return "numpy" if _fast_path_gaps(activation, loss, optimizer) else "numba"
    if fused_wins(layer_sizes, sample_epochs):
        return "numpy" if _fast_path_gaps(activation, loss, optimizer, "fused") else "fused"
    return "numpy"


# The largest networks (weights per model) that the compiled kernels train faster than
# the NumPy engine.  Measured with 64 models, N = 750, one core (docs/benchmarks.md):
# [2, 4, 2] 3.1x, [2, 8, 2] 3.5x, [2, 8, 8, 2] 1.8x, [2, 32, 2] 2.0x, but [2, 16, 16, 2]
# 0.6x and 24 layers of 16 0.5x.  The kernels load every weight once per sample and model
# (a multiply-add per load), while BLAS keeps a tile of weights in registers for many
# samples; once hidden-to-hidden products appear, BLAS wins.
FAST_MAX_WEIGHTS = 160
# The shortest runs (epochs x training samples) worth the compiled kernels.  Compiling
# them costs ~7 CPU seconds once per machine (then numba's cache); they save ~40 us per
# model-epoch on the blog's network (N = 750).  A 50-epoch blog run (37,500 sample-epochs)
# trains in ~3 ms on NumPy: the blog and optimizers presets (8,000 and 42,000
# model-epochs) would pay the compile for a fraction of a second, so they stay on NumPy
# and `initlab study` starts in seconds on a fresh machine; 200-epoch runs use the
# kernels.  The rule reads the configuration only (never the cache), so every executor
# and every machine picks the same engine for a run.
FAST_MIN_SAMPLE_EPOCHS = 100_000


def _long_enough(sample_epochs: int | None) -> bool:
    return sample_epochs is None or sample_epochs >= FAST_MIN_SAMPLE_EPOCHS


def _weights(layer_sizes: Sequence[int]) -> int:
    sizes = [int(s) for s in layer_sizes]
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def compiled_wins(layer_sizes: Sequence[int], sample_epochs: int | None = None) -> bool:
    """Whether the compiled kernels are measured faster than NumPy for these layer sizes
    and runs of ``sample_epochs`` (epochs x training samples; None: long runs)."""
    return _long_enough(sample_epochs) and _weights(layer_sizes) <= FAST_MAX_WEIGHTS


# The smallest runs (multiply-adds of their forward passes: epochs x training samples x
# weights) worth the fused passes (initlab.fused).  They compile in 2-4 CPU seconds once
# per machine (0.5-2 s per activation; loading them from numba's cache: 0.5 s with numba's
# import) and save 0.2-1.3 ms per model-epoch of W2's [2, 64, 64, 64, 4] on 750 samples
# (AVX-512 to AVX2; docs/benchmarks.md), so a 50-epoch W2 run (3.2e8 multiply-adds) is
# worth them, and the smallest fused network (161 weights) needs as many sample-epochs as
# the kernels' rule (FAST_MIN_SAMPLE_EPOCHS).  The blog's networks never reach the fused
# passes (at most FAST_MAX_WEIGHTS weights).
FUSED_MIN_WORK = FAST_MIN_SAMPLE_EPOCHS * FAST_MAX_WEIGHTS


def fused_wins(layer_sizes: Sequence[int], sample_epochs: int | None = None) -> bool:
    """Whether the fused passes (:mod:`initlab.fused`) are measured faster than NumPy and
    the kernels: networks beyond :data:`FAST_MAX_WEIGHTS` weights, runs of at least
    :data:`FUSED_MIN_WORK` multiply-adds (``sample_epochs`` x weights; None: long runs)."""
    weights = _weights(layer_sizes)
    if weights <= FAST_MAX_WEIGHTS:
        return False
    return sample_epochs is None or sample_epochs * weights >= FUSED_MIN_WORK


def prepare(
    layer_sizes,
    activation: str,
    loss: str,
    optimizer: str | None,
    dtype="float64",
    sample_epochs: int | None = None,
):
    """Compile (or load from the cache) what the compiled engine needs for such populations.

    A no-op when they train with NumPy.  Called before forking worker
    processes, so that they inherit the compiled code instead of each loading
    numba and its cache.
    """
    chosen = engine_for(layer_sizes, activation, loss, optimizer, "auto", sample_epochs)
    if chosen == "fused":
        from . import fused

        fused.warm(activation, loss, dtype)
    elif chosen == "numba":
        from . import kernels

        kernels.warm("adam" if optimizer == "adamw" else optimizer, activation, loss, dtype)


# The NumPy engine works on planes of (models x samples) per unit; once one layer's plane
# outgrows the caches, every ufunc pass streams from memory and the cost per model-epoch
# grows with the population (blog shape, N = 750: 64 us per model-epoch at 64 models, 97
# at 256, 122 at 4,096; 16-wide layers: 381 us at 4 models, 628 at 256;
# docs/benchmarks.md).  A population is therefore sized so that one layer's plane stays
# within this budget.  The fused engine works on the same planes and follows the same
# budget (W2's 64-wide layers: 1.17, 1.14, 1.17, 1.34, 1.62 ms per model-epoch at 1, 2, 4,
# 8, 16 models; W3's 24 x 16: 1.50, 1.33, 1.47, 1.82 at 2, 5, 10, 20).  The compiled
# kernels keep each block of models in cache whatever the population, so their cost per
# model-epoch is flat (24 us at 64 and at 4,096 models).
NUMPY_PLANE_BYTES = 1 << 20
MAX_POPULATION = 4096


def population_size(layer_sizes, n_samples: int, dtype="float64", engine: str = "numpy") -> int:
    """How many models one population should hold to train fastest (before memory limits).

    ``n_samples`` is the number of samples the forward pass sees at once;
    ``engine`` is the one that will train the population (:func:`engine_for`):
    the kernels' cost is flat, NumPy's and the fused engine's grow once a
    layer's plane of models x samples outgrows :data:`NUMPY_PLANE_BYTES`.
    """
    if engine == "numba":
        return MAX_POPULATION
    widest = max(int(s) for s in layer_sizes[1:])
    plane = max(1, int(n_samples)) * widest * np.dtype(dtype).itemsize
    return int(min(MAX_POPULATION, max(1, NUMPY_PLANE_BYTES // plane)))


def _labels(y: np.ndarray, population: Population) -> np.ndarray:
    """Integer labels for the fused passes, which index the class planes by them."""
    yi = y.astype(np.int64)
    K = population.n_classes
    if population.loss.name == "cross_entropy" and yi.size and (yi.min() < 0 or yi.max() >= K):
        raise ValueError(f"labels must be 0..{K - 1} for {K} outputs, got {yi.min()}..{yi.max()}")
    return yi


def _check_penalty(name: str, value, M: int) -> np.ndarray | float:
    check_hyperparameter(name, value, 0.0, math.inf, False)
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 1 and arr.shape[0] != M:
        raise ConfigError(f"{name} has {arr.shape[0]} values for {M} models", field=name)
    return arr if arr.ndim else float(arr)


class Trainer:
    """Trains a population epoch by epoch; pausable, so the playground can stream it.

    Parameters
    ----------
    population : Population
    params : list of arrays
        Initial parameters (copied).
    optimizer : GradientTransformation
        With per-model hyperparameters of shape ``(M,)`` where they differ.
    X, y : arrays
        Training data, ``y`` integer-coded ``0..K-1``.
    X_val, y_val : arrays, optional
    batch_size : int or None
        None for full batch.  Batches are consecutive slices of the
        (optionally shuffled) training set; the last one may be smaller.
    shuffle : bool
        Reshuffle the order every epoch.  The order is part of the data plan
        shared by the whole population, drawn from ``shuffle_seed``, not from
        the models' seeds: networks that differ only in their initial weights
        see the same batches.
    record : bool
        Record loss and accuracy (train, and validation when given) after
        every epoch.  With full batch, the training metrics come free from
        the forward pass the gradient needs anyway.
    snapshots : bool
        Keep a flat copy of every parameter after every epoch
        (``(epochs + 1, M, n_params)``), for the per-parameter update plots.
    l1, l2 : float or (M,) array
        Weight penalties (:func:`weight_penalty`): ``l1 * sign(W) + l2 * W``
        is added to the weights' gradients before the optimizer (as torch's
        ``weight_decay`` for ``l2``; biases are not penalized).  Reported
        losses stay the data loss.
    divergence_factor : float or None
        A model has diverged when its training loss exceeds
        ``max(divergence_factor * initial loss, DIVERGENCE_FLOOR)`` (1e4), or
        its loss or parameters become inf/NaN.  None: only inf/NaN.  The loss
        checked is the full-batch loss of each epoch's state with full
        batches, else the mean of an epoch's batch losses.
    engine : {"auto", "numpy", "numba", "fused"}
        See :func:`choose_engine`; :attr:`engine` is the one chosen.
    threads : int, optional
        Threads for the compiled engine (default: the free cores; one inside
        worker processes).  Results do not depend on it.
    epochs : int, optional
        The epochs this trainer is meant to train, for the engine choice
        (:func:`compiled_wins`): runs too short to repay compiling the kernels
        train with NumPy.  None (unknown) counts as long.
    """

    def __init__(
        self,
        population: Population,
        params: Sequence[np.ndarray],
        optimizer: GradientTransformation,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
        batch_size: int | None = None,
        shuffle: bool = False,
        shuffle_seed: int = 0,
        record: bool = True,
        snapshots: bool = False,
        l1=0.0,
        l2=0.0,
        divergence_factor: float | None = DIVERGENCE_FACTOR,
        engine: str = "auto",
        threads: int | None = None,
        epochs: int | None = None,
    ):
        self.pop = population
        dtype = population.dtype
        M = population.n_models
        self.params = [np.array(p, dtype=dtype, copy=True) for p in params]
        expected = population.param_shapes()
        got = [p.shape for p in self.params]
        if got != expected:
            raise ValueError(f"parameter shapes {got} do not match the population's {expected}")
        self.l1 = _check_penalty("l1", l1, M)
        self.l2 = _check_penalty("l2", l2, M)
        self._penalized = bool(np.any(np.asarray(self.l1) != 0) or np.any(np.asarray(self.l2) != 0))
        if divergence_factor is not None:
            check_hyperparameter("divergence_factor", divergence_factor, 1.0, math.inf, False)
            divergence_factor = float(divergence_factor)
        self.divergence_factor = divergence_factor
        self.optimizer = optimizer
        self.x = population._as_inputs(X)  # (d, N)
        self.y = np.asarray(y)
        self.t = population.targets(self.y)
        self.n = self.x.shape[-1]
        self.has_val = X_val is not None and y_val is not None and len(y_val) > 0
        if self.has_val:
            self.x_val = population._as_inputs(X_val)
            self.y_val = np.asarray(y_val)
            self.t_val = population.targets(self.y_val)
        if batch_size is not None and (int(batch_size) < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size}")
        self.batch_size = None if batch_size is None or batch_size >= self.n else int(batch_size)
        self.shuffle = bool(shuffle) and self.batch_size is not None
        self.shuffle_rng = np.random.default_rng(shuffle_seed)
        self.record = record
        self.keep_snapshots = snapshots
        planned = None if epochs is None else int(epochs) * self.n
        self.engine = choose_engine(population, optimizer, engine, planned)
        self.epoch = 0
        self.diverged_epoch = np.full(M, -1, dtype=np.int64)
        self._limit: np.ndarray | None = None  # divergence limit on the loss, per model
        self._rows: list[dict[str, np.ndarray]] = []
        self._snaps: list[np.ndarray] = []
        if self.engine == "numba":
            self._fast = self._compiled(threads)
        else:
            self.opt_state = optimizer.init(self.params)
            self._buffers, self._val_buffers = Buffers(), Buffers()
        if self.engine == "fused":
            from . import fused

            self._fused = fused.Fused(population)
            self._yi = _labels(self.y, population)
            self._yi_val = _labels(self.y_val, population) if self.has_val else None
        if snapshots:
            self._snaps.append(self._flat())

    def _compiled(self, threads):
        from . import kernels

        pop = self.pop
        name = self.optimizer.recipe[0]
        lanes, block = kernels.block_shape(pop.layer_sizes, pop.dtype)
        fast = kernels.Population(
            pop.layer_sizes,
            pop.activation.name,
            pop.loss.name,
            "adam" if name == "adamw" else name,
            self._kernel_hyper(),
            pop.n_models,
            pop.dtype,
            lanes,
            block,
            threads,
        )
        self._X = np.ascontiguousarray(self.x.T)
        self._y = self.y.astype(np.int64)
        if self.has_val:
            self._Xv = np.ascontiguousarray(self.x_val.T)
            self._yv = self.y_val.astype(np.int64)
        else:
            self._Xv = np.zeros((0, self.x.shape[0]), pop.dtype)
            self._yv = np.zeros(0, np.int64)
        return fast

    def _kernel_hyper(self) -> dict:
        """The compiled kernels' hyperparameters (:data:`initlab.kernels.HYPER_ROWS`)."""
        hyper = self.optimizer.recipe[1]
        act_params = list(self.pop.activation.params.values())
        values = dict(hyper)
        values.update(
            momentum=hyper.get("momentum", hyper.get("rho", hyper.get("beta1", 0.0))),
            l1=self.l1,
            l2=self.l2,
            act_param=np.asarray(act_params[0]).reshape(-1) if act_params else 0.0,
        )
        return values

    def retune(self, optimizer: GradientTransformation, l1=None, l2=None) -> None:
        """Continue training with new hyperparameters: the same optimizer built with other
        values (learning rate, momentum, betas, ...) and, if given, new weight penalties.

        The parameters, the optimizer's state (velocities, moments, step count), the
        epoch and the recorded history stay, as when one changes ``param_group["lr"]``
        of a ``torch.optim`` optimizer mid-training.

        Raises
        ------
        ValueError
            When ``optimizer`` is not the same named optimizer (its state would not fit).
        """
        old, new = getattr(self.optimizer, "recipe", None), getattr(optimizer, "recipe", None)
        if old is None or new is None or old[0] != new[0]:
            raise ValueError(
                "retune takes the same named optimizer with other hyperparameters; build a "
                "new Trainer to switch optimizers"
            )
        M = self.pop.n_models
        if l1 is not None:
            self.l1 = _check_penalty("l1", l1, M)
        if l2 is not None:
            self.l2 = _check_penalty("l2", l2, M)
        self._penalized = bool(np.any(np.asarray(self.l1) != 0) or np.any(np.asarray(self.l2) != 0))
        self.optimizer = optimizer
        if self.engine == "numba":
            self._fast.set_hyper(self._kernel_hyper())

    # -- metrics ------------------------------------------------------------------------------
    def _metrics_from(self, cache, y: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
        if self.engine == "fused":  # the fused passes computed both
            return {f"{prefix}_loss": cache.loss, f"{prefix}_acc": cache.acc}
        loss = cache.loss.mean(axis=-1)
        acc = accuracy(self.pop.loss, cache.proba, y, loss)
        return {f"{prefix}_loss": loss, f"{prefix}_acc": acc}

    def _forward(self, x, t, yi, buffers: Buffers, train: bool, metrics: bool):
        """The forward pass of the NumPy or fused engine and each model's mean loss; ``train``:
        the backward pass follows, ``metrics``: :meth:`_metrics_from` follows."""
        if self.engine == "fused":
            cache = self._fused.forward(self.params, x, yi, t, buffers, train, metrics)
            return cache, cache.loss
        cache = self.pop.forward(self.params, x, t, buffers)
        return cache, cache.loss.mean(axis=-1)

    def _gradients(self, cache, t) -> list[np.ndarray]:
        if self.engine == "fused":
            return self._fused.backward(self.params, cache, self._buffers)
        return self.pop.backward(self.params, cache, t, self._buffers)

    def _evaluate(self, train_cache=None) -> dict[str, np.ndarray]:
        if self.engine == "numba":
            return self._row(self._run_compiled(0, record=False, final=True)[2][0])
        if train_cache is None:
            yi = self._y_int()
            train_cache = self._forward(self.x, self.t, yi, self._buffers, False, True)[0]
        row = self._metrics_from(train_cache, self.y, "train")
        if self.has_val:
            val = self._forward(
                self.x_val, self.t_val, self._y_int(val=True), self._val_buffers, False, True
            )[0]
            row.update(self._metrics_from(val, self.y_val, "val"))
        return row

    def _y_int(self, idx=None, val: bool = False):
        """Integer labels for the fused passes (None for the NumPy engine)."""
        if self.engine != "fused":
            return None
        y = self._yi_val if val else self._yi
        return y if idx is None else y[idx]

    def _row(self, h: np.ndarray) -> dict[str, np.ndarray]:
        """A compiled history row ``(4, M)`` as a metrics dict."""
        row = {"train_loss": h[0].copy(), "train_acc": h[1].copy()}
        if self.has_val:
            row.update(val_loss=h[2].copy(), val_acc=h[3].copy())
        return row

    def _mark_divergence(self, epoch: int, loss=None, params_bad=None) -> None:
        """Flag models diverged at ``epoch``: from a training loss and the parameters.

        ``params_bad`` (per model) replaces looking at :attr:`params` when given.
        """
        bad = np.zeros(self.pop.n_models, bool)
        if loss is not None:
            loss = np.asarray(loss, dtype=float)
            if self._limit is None and epoch == 0 and self.divergence_factor is not None:
                self._limit = np.maximum(self.divergence_factor * loss, DIVERGENCE_FLOOR)
            bad |= ~np.isfinite(loss)
            if self._limit is not None:
                with np.errstate(invalid="ignore"):
                    bad |= loss > self._limit
        if params_bad is None:
            for p in self.params:
                bad |= ~np.isfinite(p.reshape(p.shape[0], -1).sum(axis=1))
        else:
            bad |= params_bad
        new = bad & (self.diverged_epoch < 0)
        self.diverged_epoch[new] = epoch

    def _start_divergence_rule(self) -> None:
        """With mini-batches, the limit comes from the initial full training loss."""
        if self.epoch == 0 and self._limit is None and self.divergence_factor is not None:
            self._mark_divergence(0, self.metrics()["train_loss"])

    def _flat(self) -> np.ndarray:
        return np.concatenate([p.reshape(p.shape[0], -1) for p in self.params], axis=1)

    # -- training -----------------------------------------------------------------------------
    def _apply(self, grads) -> None:
        if self._penalized:
            weight_penalty(self.params, self.l1, self.l2, grads)
        updates, self.opt_state = self.optimizer.update(grads, self.opt_state, self.params)
        for p, u in zip(self.params, updates, strict=True):
            p += u

    def step(self, n_epochs: int = 1) -> None:
        """Train ``n_epochs`` more epochs."""
        n_epochs = int(n_epochs)
        with np.errstate(**_ERRSTATE), one_blas_thread():
            if self.batch_size is not None:
                self._start_divergence_rule()
            if self.engine == "numba":
                per_call = 1 if self.keep_snapshots else max(1, (1 << 22) // max(self.n, 1))
                while n_epochs > 0:
                    todo = min(n_epochs, per_call)
                    self._compiled_epochs(todo)
                    n_epochs -= todo
                return
            for _ in range(n_epochs):
                self._one_epoch()

    def _orders(self, n_epochs: int) -> np.ndarray:
        if not self.shuffle or n_epochs == 0:
            return np.arange(self.n, dtype=np.int64)[None, :]
        return np.stack([self.shuffle_rng.permutation(self.n) for _ in range(n_epochs)])

    def _run_compiled(self, n_epochs: int, record: bool, final: bool):
        fast = self._fast
        fast.load(self.params)
        batch = self.n if self.batch_size is None else self.batch_size
        out = fast.train(
            self._X, self._y, self._Xv, self._yv, self._orders(n_epochs), n_epochs, batch,
            record, final,
        )  # fmt: skip
        if n_epochs:
            for p, new in zip(self.params, fast.params(), strict=True):
                p[...] = new
        return out

    def _compiled_epochs(self, n_epochs: int) -> None:
        first = self.epoch
        bad = np.zeros(self.pop.n_models, bool)  # parameters of the state before the call
        for p in self.params:
            bad |= ~np.isfinite(p.reshape(p.shape[0], -1).sum(axis=1))
        epoch_loss, params_bad, history = self._run_compiled(n_epochs, self.record, False)
        for e in range(n_epochs):
            if self.record and len(self._rows) == first + e:
                self._rows.append(self._row(history[e]))
            if self.batch_size is None:  # the loss of state e and its parameters
                self._mark_divergence(
                    first + e, epoch_loss[e], bad if e == 0 else params_bad[e - 1]
                )
            else:  # the epoch's batch losses, the parameters after it
                self._mark_divergence(first + e + 1, epoch_loss[e], params_bad[e])
        self.epoch = first + n_epochs
        if self.keep_snapshots:
            self._snaps.append(self._flat())

    def _one_epoch(self) -> None:
        if self.batch_size is None:
            metrics = self.record and len(self._rows) == self.epoch
            cache, loss = self._forward(self.x, self.t, self._y_int(), self._buffers, True, metrics)
            if metrics:
                self._rows.append(self._evaluate(cache))
            self._mark_divergence(self.epoch, loss)
            self._apply(self._gradients(cache, self.t))
        else:
            if self.record and len(self._rows) == self.epoch:
                self._rows.append(self._evaluate())
            order = self.shuffle_rng.permutation(self.n) if self.shuffle else None
            batch_losses = []
            for start in range(0, self.n, self.batch_size):
                if order is None:
                    idx = slice(start, start + self.batch_size)
                else:
                    idx = order[start : start + self.batch_size]
                xb, tb = self.x[:, idx], self.t[..., idx]
                cache, loss = self._forward(xb, tb, self._y_int(idx), self._buffers, True, False)
                batch_losses.append(loss)
                self._apply(self._gradients(cache, tb))
            self._mark_divergence(self.epoch + 1, np.mean(batch_losses, axis=0))
        self.epoch += 1
        if self.keep_snapshots:
            self._snaps.append(self._flat())

    def params_changed(self) -> None:
        """Say that :attr:`params` were changed in place from outside (the playground's
        weight editor): the current state's cached metrics are dropped and recomputed
        by the next :meth:`metrics`.  The optimizer state is kept."""
        if self.record and len(self._rows) > self.epoch:
            del self._rows[self.epoch :]

    def metrics(self) -> dict[str, np.ndarray]:
        """Metrics of the current state (computed once per epoch, then cached)."""
        with np.errstate(**_ERRSTATE):
            if self.record:
                if len(self._rows) == self.epoch:
                    self._rows.append(self._evaluate())
                return self._rows[self.epoch]
            return self._evaluate()

    def result(self) -> TrainResult:
        final = self.metrics()
        self._mark_divergence(self.epoch, final["train_loss"])
        history = {}
        if self.record:
            history = {k: np.stack([r[k] for r in self._rows]) for k in self._rows[0]}
        diverged = self.diverged_epoch >= 0
        snaps = np.stack(self._snaps) if self.keep_snapshots else None
        return TrainResult(
            params=[p.copy() for p in self.params],
            history=history,
            final=final,
            diverged=diverged,
            diverged_epoch=self.diverged_epoch.copy(),
            epochs=self.epoch,
            snapshots=snaps,
            engine=self.engine,
        )


def train(
    population: Population,
    params: Sequence[np.ndarray],
    optimizer: GradientTransformation,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    callback: Callable[[Trainer], None] | None = None,
    **kwargs,
) -> TrainResult:
    """Train a population for ``epochs`` epochs; see :class:`Trainer` for the options.

    ``callback(trainer)``, if given, runs after every epoch (for progress bars
    and diagnostics recorded every k epochs).
    """
    trainer = Trainer(population, params, optimizer, X, y, **kwargs)
    if callback is None:
        trainer.step(epochs)
    else:
        for _ in range(int(epochs)):
            trainer.step(1)
            callback(trainer)
    return trainer.result()
