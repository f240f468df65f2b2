"""The peers of the benchmark: the same grid trained by initlab and by the usual alternatives.

Every peer does the same math: the networks of a :class:`Workload`, each
starting from the same initial weights (drawn once by
:func:`initlab.engine.init_params`, with the blog's recipe for W1 and W2, and
handed to every peer), trained by full-batch gradient descent (W1, W2) or
heavy-ball momentum (W3) on the mean softmax cross-entropy for the same
number of epochs, with the training loss computed every epoch.  A peer
returns the final training loss of every run, so the driver (``run.py``) can
check that the peers agree.

Peers (``PEERS``):

``initlab``          ``initlab.sweep`` over the grid, ``n_jobs=2`` (one population per
                     activation, split over two worker processes)
``initlab-1core``    the same, ``n_jobs=1``
``numpy-loop``       one model at a time, a NumPy class written in the blog's style
``torch-loop``       one model at a time, PyTorch autograd
``torch-batched``    one ``bmm`` population per activation, PyTorch autograd
``jax``              one ``jit(vmap(lax.scan))`` per activation
``sklearn``          ``MLPClassifier(solver="sgd")``, one model at a time (no leaky ReLU)

Heavy frameworks are imported inside their peer, so a benchmark of the NumPy
peers runs without them.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from initlab import datasets, engine
from initlab import initializers as _initializers
from initlab.network import BLOG_INITS

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
BLOG_INIT_NAMES = ("zeros", "random", "xavier", "he")
LEAKY_SLOPE = 0.1
# torch's intra-op threads (run.py --torch-threads); its default (one per core) made both
# torch peers ~10x slower on the shared 2-core benchmark machine (docs/benchmarks.md)
TORCH_THREADS = 1


@dataclass
class Workload:
    """A grid: activations x inits x seeds, full batch, GD or momentum.

    ``recipe`` "blog" draws the blog's way (its init names, N(0, 1) biases,
    ``np.random.seed``-style draws); "plain" uses initlab's initializer names,
    zero biases and the default generator (as the presets do).
    """

    name: str
    hidden: tuple[int, ...]
    seeds: int
    epochs: int
    learning_rate: float = 1.0
    activations: tuple[str, ...] = ACTIVATIONS
    inits: tuple[str, ...] = BLOG_INIT_NAMES
    dataset: str = "blog"
    dataset_options: tuple[tuple[str, object], ...] = ()
    momentum: float = 0.0  # 0: plain gradient descent
    recipe: str = "blog"

    @property
    def n_runs(self) -> int:
        return len(self.activations) * len(self.inits) * self.seeds

    @property
    def model_epochs(self) -> int:
        return self.n_runs * self.epochs


WORKLOADS = {
    "W1": Workload("W1", (2,), seeds=16, epochs=200),
    "W2": Workload("W2", (64, 64, 64), seeds=2, epochs=50),
    # the deep preset's hardest group: 24 hidden layers of 16 on moons
    "W3": Workload(
        "W3",
        (16,) * 24,
        seeds=5,
        epochs=150,
        learning_rate=0.05,
        activations=("tanh", "relu"),
        inits=("zeros", "random", "xavier_normal", "he_normal", "orthogonal"),
        dataset="moons",
        dataset_options=(("noise", 0.2), ("n_samples", 1000)),
        momentum=0.9,
        recipe="plain",
    ),
}


def quick(workload: Workload) -> Workload:
    """A tiny version of a workload for smoke runs (1 seed, 3 epochs, at most 3 narrow layers)."""
    hidden = tuple(min(h, 8) for h in workload.hidden[:3])
    return replace(workload, hidden=hidden, seeds=1, epochs=3)


@dataclass
class Run:
    """One network of the grid with its initial parameters ``[W1, b1, ...]`` (float64)."""

    activation: str
    init: str
    seed: int
    params: list[np.ndarray]


@dataclass
class Problem:
    """Everything a peer needs: the workload, the data, the runs, the dtype."""

    workload: Workload
    X: np.ndarray  # (N, d), float64
    y: np.ndarray  # (N,), int 0..K-1
    runs: list[Run]
    dtype: str = "float64"
    data: datasets.Dataset | None = field(default=None, repr=False)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        return (self.X.shape[1], *self.workload.hidden, int(self.y.max()) + 1)

    def groups(self) -> dict[str, list[int]]:
        """Run indices by activation (a population per activation)."""
        out: dict[str, list[int]] = {}
        for i, run in enumerate(self.runs):
            out.setdefault(run.activation, []).append(i)
        return out

    def stacked(self, indices: list[int]) -> list[np.ndarray]:
        """The runs' parameters stacked along a leading model axis, in ``dtype``."""
        n = len(self.runs[indices[0]].params)
        return [
            np.stack([self.runs[i].params[k] for i in indices]).astype(self.dtype) for k in range(n)
        ]

    @property
    def dtype_type(self):
        return np.dtype(self.dtype).type

    def onehot(self) -> np.ndarray:
        return np.eye(self.layer_sizes[-1], dtype=self.dtype)[self.y]


def subset(problem: Problem, seeds: int) -> tuple[Problem, list[int]]:
    """The runs with the first ``seeds`` seeds of every activation x init (and their indices)."""
    keep = [i for i, r in enumerate(problem.runs) if r.seed < seeds]
    sub = Problem(
        problem.workload, problem.X, problem.y, [problem.runs[i] for i in keep], problem.dtype
    )
    sub.data = problem.data
    return sub, keep


def shorten(problem: Problem, seeds: int, epochs: int) -> Problem:
    """The first ``seeds`` seeds of every activation x init, trained for ``epochs`` only."""
    short = replace(problem.workload, seeds=seeds, epochs=epochs)
    sub, _ = subset(problem, seeds)
    sub.workload = short
    return sub


def init_names(workload: Workload, init: str) -> tuple[str, str]:
    """``(weight init, bias init)`` of one of the workload's inits, as initlab names."""
    if workload.recipe == "blog":
        return BLOG_INITS[init]
    return _initializers.REGISTRY.canonical(init), "zeros"


def load_data(workload: Workload) -> datasets.Dataset:
    if workload.dataset_options:
        return datasets.load(workload.dataset, **dict(workload.dataset_options))
    return datasets.load(workload.dataset)


def make_problem(workload: Workload, dtype: str = "float64") -> Problem:
    """Load the data and draw every run's initial weights (the workload's recipe)."""
    data = load_data(workload)
    sizes = (data.n_features, *workload.hidden, data.n_classes)
    runs = []
    for act in workload.activations:
        specs = [(init, s) for init in workload.inits for s in range(workload.seeds)]
        pop = engine.Population(sizes, act, n_models=len(specs))
        params = engine.init_params(
            pop,
            [s for _, s in specs],
            [init_names(workload, i)[0] for i, _ in specs],
            [init_names(workload, i)[1] for i, _ in specs],
            rng_kind="legacy" if workload.recipe == "blog" else "generator",
        )
        for m, (init, s) in enumerate(specs):
            runs.append(Run(act, init, s, [p[m] for p in params]))
    return Problem(workload, data.X_train, data.y_train, runs, dtype, data)


# --- reference loss ---------------------------------------------------------------------------
def _np_act(name: str, z: np.ndarray) -> np.ndarray:
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, LEAKY_SLOPE * z)
    raise ValueError(f"unknown activation {name!r}; the benchmark uses {', '.join(ACTIVATIONS)}")


def reference_loss(activation: str, params: list[np.ndarray], X, y) -> float:
    """Mean softmax cross-entropy of one network, in float64, by the plain formula."""
    with np.errstate(all="ignore"):
        h = np.asarray(X, dtype=np.float64)
        n_layers = len(params) // 2
        for layer in range(n_layers):
            W = np.asarray(params[2 * layer], np.float64)
            b = np.asarray(params[2 * layer + 1], np.float64)
            z = h @ W + b
            h = _np_act(activation, z) if layer < n_layers - 1 else z
        shifted = h - h.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(y)), y].mean())


# --- initlab ----------------------------------------------------------------------------------
def initlab_peer(problem: Problem, n_jobs: int = 2) -> np.ndarray:
    """``initlab.sweep`` over the grid (the library's own way to train a study)."""
    import initlab

    wl = problem.workload
    inits = [init_names(wl, i)[0] for i in wl.inits]
    blog = wl.recipe == "blog"
    extra = {"momentum": [wl.momentum]} if wl.momentum else {}
    if "leaky_relu" in wl.activations:
        extra["leaky_slope"] = LEAKY_SLOPE
    runs = initlab.sweep(
        problem.data,
        wl.hidden,
        list(wl.activations),
        inits,
        ["momentum" if wl.momentum else "gd"],
        [wl.learning_rate],
        seeds=range(wl.seeds),
        epochs=wl.epochs,
        bias_init="blog" if blog else "zeros",
        dtype=problem.dtype,
        rng_kind="legacy" if blog else "generator",
        n_jobs=n_jobs,
        **extra,
    )
    by_key = {(r.activation, r.init, r.seed): r.train_loss for r in runs.itertuples(index=False)}
    out = np.full(len(problem.runs), np.nan)
    for i, run in enumerate(problem.runs):
        out[i] = by_key[(run.activation, init_names(wl, run.init)[0], run.seed)]
    return out


# --- NumPy, one model at a time, the blog's style ---------------------------------------------
class BlogFFNetwork:
    """The blog's ``FFNetwork``, generalized to any depth: one model, explicit backprop.

    As in the blog: ``params`` is a dict ``W1, B1, ...``; ``forward_pass`` keeps
    the pre-activations ``A`` and activations ``H``; ``grad_activation`` takes
    the activation ``H``; ``grad`` runs the chain rule layer by layer; ``fit``
    does full-batch GD with ``eta``.  One difference: the softmax is shifted by
    its max (the blog's overflows for large logits).
    """

    def __init__(self, params, activation_function="sigmoid", leaky_slope=0.1):
        self.activation_function = activation_function
        self.leaky_slope = leaky_slope
        self.num_layers = len(params) // 2
        self.params = {}
        for i in range(self.num_layers):
            self.params["W" + str(i + 1)] = params[2 * i].copy()
            self.params["B" + str(i + 1)] = params[2 * i + 1].reshape(1, -1).copy()

    def forward_activation(self, X):
        if self.activation_function == "sigmoid":
            return 1.0 / (1.0 + np.exp(-X))
        elif self.activation_function == "tanh":
            return np.tanh(X)
        elif self.activation_function == "relu":
            return np.maximum(0, X)
        elif self.activation_function == "leaky_relu":
            return np.maximum(self.leaky_slope * X, X)

    def grad_activation(self, X):
        if self.activation_function == "sigmoid":
            return X * (1 - X)
        elif self.activation_function == "tanh":
            return 1 - np.square(X)
        elif self.activation_function == "relu":
            return 1.0 * (X > 0)
        elif self.activation_function == "leaky_relu":
            d = np.zeros_like(X)
            d[X <= 0] = self.leaky_slope
            d[X > 0] = 1
            return d

    def softmax(self, X):
        exps = np.exp(X - X.max(axis=1, keepdims=True))
        return exps / np.sum(exps, axis=1).reshape(-1, 1)

    def forward_pass(self, X):
        self.A, self.H = {}, {0: X}
        for i in range(1, self.num_layers + 1):
            self.A[i] = (
                np.matmul(self.H[i - 1], self.params["W" + str(i)]) + self.params["B" + str(i)]
            )
            if i < self.num_layers:
                self.H[i] = self.forward_activation(self.A[i])
            else:
                self.H[i] = self.softmax(self.A[i])
        return self.H[self.num_layers]

    def grad(self, X, Y):
        self.forward_pass(X)
        self.gradients = {}
        L = self.num_layers
        self.gradients["dA" + str(L)] = self.H[L] - Y
        for i in range(L, 0, -1):
            dA = self.gradients["dA" + str(i)]
            self.gradients["dW" + str(i)] = np.matmul(self.H[i - 1].T, dA)
            self.gradients["dB" + str(i)] = np.sum(dA, axis=0).reshape(1, -1)
            if i > 1:
                dH = np.matmul(dA, self.params["W" + str(i)].T)
                self.gradients["dA" + str(i - 1)] = np.multiply(
                    dH, self.grad_activation(self.H[i - 1])
                )

    def fit(self, X, Y, epochs=1, eta=1, gamma=0.0):
        """GD, or the blog's Momentum with ``gamma``: ``v = gamma v + eta g; p -= v``."""
        m = X.shape[0]
        self.loss = []
        v = {k: np.zeros_like(p) for k, p in self.params.items()}
        for _ in range(epochs):
            self.grad(X, Y)
            p = self.H[self.num_layers]
            self.loss.append(-np.mean(np.log(np.sum(p * Y, axis=1))))
            for i in range(1, self.num_layers + 1):
                for key in ("W" + str(i), "B" + str(i)):
                    g = self.gradients["d" + key] / m
                    if gamma:
                        v[key] = gamma * v[key] + eta * g
                        self.params[key] -= v[key]
                    else:
                        self.params[key] -= eta * g

    def param_list(self):
        out = []
        for i in range(1, self.num_layers + 1):
            out += [self.params["W" + str(i)], self.params["B" + str(i)].ravel()]
        return out


def numpy_loop_peer(problem: Problem) -> list[list[np.ndarray]]:
    X = problem.X.astype(problem.dtype)
    Y = problem.onehot()
    wl = problem.workload
    out = []
    with np.errstate(all="ignore"):
        for run in problem.runs:
            params = [p.astype(problem.dtype) for p in run.params]
            net = BlogFFNetwork(params, run.activation, problem.dtype_type(LEAKY_SLOPE))
            net.fit(
                X,
                Y,
                epochs=wl.epochs,
                eta=problem.dtype_type(wl.learning_rate),
                gamma=problem.dtype_type(wl.momentum),
            )
            out.append(net.param_list())
    return out


# --- PyTorch ----------------------------------------------------------------------------------
def _torch_act(name: str):
    import torch

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, LEAKY_SLOPE),
    }[name]


def torch_loop_peer(problem: Problem) -> list[list[np.ndarray]]:
    """One model at a time: autograd, then ``p -= lr * p.grad`` under ``no_grad``."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(TORCH_THREADS)
    tdtype = getattr(torch, problem.dtype)
    X = torch.tensor(problem.X, dtype=tdtype)
    y = torch.tensor(problem.y, dtype=torch.long)
    lr, mu = problem.workload.learning_rate, problem.workload.momentum
    out = []
    for run in problem.runs:
        act = _torch_act(run.activation)
        params = [torch.tensor(p, dtype=tdtype, requires_grad=True) for p in run.params]
        vel = [torch.zeros_like(p) for p in params]
        n_layers = len(params) // 2
        for _ in range(problem.workload.epochs):
            h = X
            for layer in range(n_layers):
                z = torch.addmm(params[2 * layer + 1], h, params[2 * layer])
                h = act(z) if layer < n_layers - 1 else z
            loss = F.cross_entropy(h, y)
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                _torch_step(params, grads, vel, lr, mu)
        out.append([p.detach().numpy() for p in params])
    return out


def _torch_step(params, grads, vel, lr, mu):
    """``p -= lr g``, or momentum ``v = mu v + g; p -= lr v`` (torch.optim.SGD's rule)."""
    for p, g, v in zip(params, grads, vel, strict=True):
        if mu:
            v.mul_(mu).add_(g)
            p.sub_(lr * v)
        else:
            p.sub_(lr * g)


def torch_batched_peer(problem: Problem) -> list[list[np.ndarray]]:
    """A population per activation: ``baddbmm`` over ``(M, N, width)``, summed losses."""
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(TORCH_THREADS)
    tdtype = getattr(torch, problem.dtype)
    X = torch.tensor(problem.X, dtype=tdtype)
    y = torch.tensor(problem.y, dtype=torch.long)
    lr, mu = problem.workload.learning_rate, problem.workload.momentum
    out: list = [None] * len(problem.runs)
    for act_name, idx in problem.groups().items():
        act = _torch_act(act_name)
        params = [torch.tensor(p, requires_grad=True) for p in problem.stacked(idx)]
        vel = [torch.zeros_like(p) for p in params]
        M, n_layers = len(idx), len(params) // 2
        xb = X.expand(M, *X.shape)
        yb = y.repeat(M)
        for _ in range(problem.workload.epochs):
            h = xb
            for layer in range(n_layers):
                z = torch.baddbmm(params[2 * layer + 1][:, None, :], h, params[2 * layer])
                h = act(z) if layer < n_layers - 1 else z
            # sum over models of each model's mean loss: each gets its own gradient
            loss = F.cross_entropy(h.reshape(-1, h.shape[-1]), yb, reduction="sum") / X.shape[0]
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                _torch_step(params, grads, vel, lr, mu)
        for m, i in enumerate(idx):
            out[i] = [p[m].detach().numpy() for p in params]
    return out


# --- JAX --------------------------------------------------------------------------------------
_JAX_CACHE: dict = {}


def jax_peer(problem: Problem) -> list[list[np.ndarray]]:
    """A population per activation: ``jit(vmap(train))`` with the epochs in ``lax.scan``."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", problem.dtype == "float64")
    acts = {
        "sigmoid": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "relu": jax.nn.relu,
        "leaky_relu": lambda z: jnp.where(z > 0, z, LEAKY_SLOPE * z),
    }
    wl = problem.workload
    X = jnp.asarray(problem.X, dtype=problem.dtype)
    Y = jnp.asarray(problem.onehot())
    out: list = [None] * len(problem.runs)
    for act_name, idx in problem.groups().items():
        key = (act_name, problem.dtype, wl.hidden, wl.epochs, wl.momentum, len(idx), X.shape)
        fn = _JAX_CACHE.get(key)
        if fn is None:
            act = acts[act_name]

            def loss_fn(params, act=act):
                h = X
                n_layers = len(params) // 2
                for layer in range(n_layers):
                    z = h @ params[2 * layer] + params[2 * layer + 1]
                    h = act(z) if layer < n_layers - 1 else z
                return -(jax.nn.log_softmax(h) * Y).sum(axis=-1).mean()

            grad_fn = jax.value_and_grad(loss_fn)

            def train_one(params, grad_fn=grad_fn):
                lr, mu = wl.learning_rate, wl.momentum

                def step(carry, _):
                    p, v = carry
                    loss, g = grad_fn(p)
                    if mu:  # v = mu v + g; p -= lr v
                        v = [mu * vi + gi for vi, gi in zip(v, g, strict=True)]
                        p = [pi - lr * vi for pi, vi in zip(p, v, strict=True)]
                    else:
                        p = [pi - lr * gi for pi, gi in zip(p, g, strict=True)]
                    return (p, v), loss

                vel = [jnp.zeros_like(q) for q in params]
                (p, _), losses = jax.lax.scan(step, (params, vel), None, length=wl.epochs)
                return p, losses

            fn = _JAX_CACHE[key] = jax.jit(jax.vmap(train_one))
        params = [jnp.asarray(p) for p in problem.stacked(idx)]
        final, _losses = fn(params)
        final = [np.asarray(jax.block_until_ready(p)) for p in final]
        for m, i in enumerate(idx):
            out[i] = [p[m] for p in final]
    return out


# --- scikit-learn -----------------------------------------------------------------------------
SKLEARN_ACTIVATIONS = {"sigmoid": "logistic", "tanh": "tanh", "relu": "relu"}


def sklearn_prepare(problem: Problem) -> list:
    """Untimed set-up: an ``MLPClassifier`` per run, initialized, with our weights injected.

    scikit-learn draws its own (Glorot) weights; a one-epoch ``fit`` sets up
    its internals, then our initial weights replace its coefficients and a
    ``warm_start`` fit trains from them.  Leaky ReLU has no scikit-learn
    equivalent (its runs are ``None``).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X = problem.X.astype(problem.dtype)
    wl = problem.workload
    if problem.layer_sizes[-1] == 2:
        raise ValueError(
            "not comparable: MLPClassifier gives two classes one logistic output unit, "
            "the other peers a softmax over two"
        )
    models = []
    for run in problem.runs:
        if run.activation not in SKLEARN_ACTIVATIONS:
            models.append(None)
            continue
        clf = MLPClassifier(
            hidden_layer_sizes=wl.hidden,
            activation=SKLEARN_ACTIVATIONS[run.activation],
            solver="sgd",
            alpha=0.0,
            batch_size=len(X),
            learning_rate="constant",
            learning_rate_init=wl.learning_rate,
            momentum=wl.momentum,  # v = mu v - lr g; p += v: the same trajectory
            nesterovs_momentum=False,
            shuffle=False,
            tol=0.0,
            n_iter_no_change=wl.epochs + 1,
            max_iter=1,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, problem.y)
        clf.coefs_ = [p.astype(problem.dtype) for p in run.params[0::2]]
        clf.intercepts_ = [p.astype(problem.dtype) for p in run.params[1::2]]
        clf.set_params(warm_start=True, max_iter=wl.epochs)
        clf.t_, clf.n_iter_, clf.loss_curve_ = 0, 0, []
        clf.best_loss_, clf._no_improvement_count = np.inf, 0
        models.append(clf)
    return models


def sklearn_peer(problem: Problem, models: list) -> list[list[np.ndarray] | None]:
    from sklearn.exceptions import ConvergenceWarning

    X = problem.X.astype(problem.dtype)
    out = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        for clf in models:
            if clf is None:
                out.append(None)
                continue
            try:
                clf.fit(X, problem.y)
            except ValueError:  # it refuses to return non-finite weights: a diverged run
                out.append(None)
                continue
            params = []
            for W, b in zip(clf.coefs_, clf.intercepts_, strict=True):
                params += [W, b]
            out.append(params)
    return out


@dataclass
class Peer:
    name: str
    train: Callable  # (problem, prepared) -> final losses (R,) or list of params
    prepare: Callable | None = None  # untimed set-up, its result passed to train
    needs: str | None = None  # module that must be importable
    description: str = ""
    loop: bool = False  # one model at a time: cost is linear in runs, may time a subset


PEERS = {
    "initlab": Peer(
        "initlab",
        lambda pb, _: initlab_peer(pb, n_jobs=2),
        description="initlab.sweep, n_jobs=2 (population per activation, 2 processes)",
    ),
    "initlab-1core": Peer(
        "initlab-1core",
        lambda pb, _: initlab_peer(pb, n_jobs=1),
        description="initlab.sweep, n_jobs=1 (one process)",
    ),
    "numpy-loop": Peer(
        "numpy-loop",
        lambda pb, _: numpy_loop_peer(pb),
        description="the blog's NumPy FFNetwork, one model at a time",
        loop=True,
    ),
    "torch-loop": Peer(
        "torch-loop",
        lambda pb, _: torch_loop_peer(pb),
        needs="torch",
        description="PyTorch autograd, one model at a time",
        loop=True,
    ),
    "torch-batched": Peer(
        "torch-batched",
        lambda pb, _: torch_batched_peer(pb),
        needs="torch",
        description="PyTorch autograd, baddbmm population per activation",
    ),
    "jax": Peer(
        "jax",
        lambda pb, _: jax_peer(pb),
        needs="jax",
        description="JAX jit(vmap(lax.scan)) per activation",
    ),
    "sklearn": Peer(
        "sklearn",
        lambda pb, models: sklearn_peer(pb, models),
        prepare=sklearn_prepare,
        description="scikit-learn MLPClassifier(solver='sgd'), one model at a time; "
        "no leaky ReLU (those runs skipped)",
        loop=True,
    ),
}
