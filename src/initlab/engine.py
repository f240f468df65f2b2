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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from . import activations as _activations
from . import initializers as _initializers
from . import losses as _losses
from .optim import GradientTransformation

__all__ = [
    "Population",
    "Trainer",
    "TrainResult",
    "init_params",
    "lsuv",
    "SMALL_LAYER",
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
    def loss_and_grads(self, params, X, y):
        """Mean loss per model ``(M,)`` and gradients, for gradient checks and diagnostics."""
        t = self.targets(y)
        with np.errstate(**_ERRSTATE):
            cache = self.forward(params, X, t)
            return cache.loss.mean(axis=-1), self.backward(params, cache, t)

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
    is -1 for models that never diverged.
    """

    params: list[np.ndarray]
    history: dict[str, np.ndarray]
    final: dict[str, np.ndarray]
    diverged: np.ndarray
    diverged_epoch: np.ndarray
    epochs: int
    snapshots: np.ndarray | None = None
    extra: dict = field(default_factory=dict)


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
    ):
        self.pop = population
        dtype = population.dtype
        self.params = [np.array(p, dtype=dtype, copy=True) for p in params]
        expected = population.param_shapes()
        got = [p.shape for p in self.params]
        if got != expected:
            raise ValueError(f"parameter shapes {got} do not match the population's {expected}")
        self.optimizer = optimizer
        self.opt_state = optimizer.init(self.params)
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
        self.epoch = 0
        self._buffers, self._val_buffers = Buffers(), Buffers()
        M = population.n_models
        self.diverged_epoch = np.full(M, -1, dtype=np.int64)
        self._rows: list[dict[str, np.ndarray]] = []
        self._snaps: list[np.ndarray] = []
        if snapshots:
            self._snaps.append(self._flat())

    # -- metrics ------------------------------------------------------------------------------
    def _metrics_from(self, cache: Cache, y: np.ndarray, prefix: str) -> dict[str, np.ndarray]:
        loss = cache.loss.mean(axis=-1)
        if self.pop.loss.binary:
            pred = (cache.proba[0] > 0.5).astype(np.int64)
        elif np.isfinite(loss).all():
            pred = _argmax_planes(cache.proba)
        else:  # NaN probabilities: argmax's NaN-first rule
            pred = cache.proba.argmax(axis=0)
        acc = (pred == y).mean(axis=-1)
        return {f"{prefix}_loss": loss, f"{prefix}_acc": acc}

    def _evaluate(self, train_cache: Cache | None = None) -> dict[str, np.ndarray]:
        if train_cache is None:
            train_cache = self.pop.forward(self.params, self.x, self.t, self._buffers)
        row = self._metrics_from(train_cache, self.y, "train")
        if self.has_val:
            val_cache = self.pop.forward(self.params, self.x_val, self.t_val, self._val_buffers)
            row.update(self._metrics_from(val_cache, self.y_val, "val"))
        return row

    def _mark_divergence(self, loss: np.ndarray | None = None) -> None:
        bad = np.zeros(self.pop.n_models, bool)
        if loss is not None:
            bad |= ~np.isfinite(loss)
        for p in self.params:
            bad |= ~np.isfinite(p.reshape(p.shape[0], -1).sum(axis=1))
        new = bad & (self.diverged_epoch < 0)
        self.diverged_epoch[new] = self.epoch

    def _flat(self) -> np.ndarray:
        return np.concatenate([p.reshape(p.shape[0], -1) for p in self.params], axis=1)

    # -- training -----------------------------------------------------------------------------
    def _apply(self, grads) -> None:
        updates, self.opt_state = self.optimizer.update(grads, self.opt_state, self.params)
        for p, u in zip(self.params, updates, strict=True):
            p += u

    def step(self, n_epochs: int = 1) -> None:
        """Train ``n_epochs`` more epochs."""
        with np.errstate(**_ERRSTATE), one_blas_thread():
            for _ in range(int(n_epochs)):
                self._one_epoch()

    def _one_epoch(self) -> None:
        if self.batch_size is None:
            cache = self.pop.forward(self.params, self.x, self.t, self._buffers)
            if self.record and len(self._rows) == self.epoch:
                self._rows.append(self._evaluate(cache))
            self._mark_divergence(cache.loss.mean(axis=-1))
            self._apply(self.pop.backward(self.params, cache, self.t, self._buffers))
        else:
            if self.record and len(self._rows) == self.epoch:
                self._rows.append(self._evaluate())
            order = self.shuffle_rng.permutation(self.n) if self.shuffle else None
            for start in range(0, self.n, self.batch_size):
                if order is None:
                    sl = slice(start, start + self.batch_size)
                    xb, tb = self.x[:, sl], self.t[..., sl]
                else:
                    idx = order[start : start + self.batch_size]
                    xb, tb = self.x[:, idx], self.t[..., idx]
                cache = self.pop.forward(self.params, xb, tb, self._buffers)
                self._apply(self.pop.backward(self.params, cache, tb, self._buffers))
        self.epoch += 1
        if self.batch_size is not None:
            self._mark_divergence()
        if self.keep_snapshots:
            self._snaps.append(self._flat())

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
        self._mark_divergence(final["train_loss"])
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
