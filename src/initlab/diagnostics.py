"""Signal-propagation diagnostics: what each layer does to the forward signal and the gradient.

The blog shows *that* Xavier suits tanh and He suits ReLU; these measurements
show *why*, layer by layer, with the quantities the initialization papers
plotted:

* forward: mean and variance of the pre-activations ``z`` and of the
  activations ``a`` (Glorot & Bengio 2010, Fig. 6; He et al. 2015, eq. 10),
  and the second moment ``E[a^2]`` that He et al.'s derivation propagates;
* backward: the variance of the back-propagated gradient ``dL/dz`` and of the
  weight gradient ``dL/dW`` (Glorot & Bengio 2010, Fig. 7);
* pathologies: the fraction of saturated units (sigmoid, tanh), of dead units
  (ReLU family) and of hidden units that are exact copies of another
  (symmetry, as after zero initialization);
* the singular values of the input-output Jacobian (Saxe et al. 2013,
  Pennington et al. 2017).

The functions return tables and arrays; :func:`initlab.plots.propagation`,
:func:`~initlab.plots.record` and :func:`~initlab.plots.spectrum` draw them.

Definitions
-----------
saturated
    For a saturating activation (sigmoid, tanh) with asymptotes ``lo`` and
    ``hi``, a (unit, sample) pair is saturated when its output lies in the
    outer 1 % of the half-range next to an asymptote:
    ``|2 a - (hi + lo)| / (hi - lo) > 0.99`` (:data:`SATURATION_LEVEL`), i.e.
    ``|tanh(z)| > 0.99`` (``|z| > 2.65``, derivative below 0.02) or a sigmoid
    output below 0.005 or above 0.995.  The column is the fraction of all
    (unit, sample) pairs of the layer.  NaN for other activations.
dead
    For the ReLU family (relu, leaky_relu, elu), the fraction of the layer's
    units whose pre-activation is ``<= 0`` for *every* row of ``X``: a ReLU
    unit outputs 0 and passes no gradient (a leaky one only its slope).
    NaN for other activations.
copies
    The number of hidden units of the layer whose incoming weights and bias
    equal those of another unit of the same layer (to ``1e-12`` relative):
    ``width - (number of distinct units)``.  Such units compute the same
    function and receive the same update, so they stay copies forever (the
    "symmetry" problem of zero initialization).
grad_var
    The variance of the per-sample back-propagated gradient ``dL_n/dz`` over
    samples and units (``N`` times the engine's ``delta``, which is the
    gradient of the batch-mean loss).  Needs labels ``y``.

Examples
--------
>>> import numpy as np
>>> from initlab import diagnostics
>>> X = np.random.default_rng(0).standard_normal((200, 64))
>>> df = diagnostics.propagation((64,) * 5, "tanh", "xavier_uniform", X)
>>> df[["layer", "a_var", "grad_var"]].round(2).head(2)  # doctest: +SKIP
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from . import activations as _activations
from . import engine, runs
from . import losses as _losses
from .engine import Population, init_params
from .errors import ConfigError
from .network import FFNetwork, check_finite

__all__ = [
    "SATURATION_LEVEL",
    "COLUMNS",
    "build",
    "layer_stats",
    "layer_rows",
    "propagation",
    "diagnose",
    "record",
    "count_copies",
    "jacobian",
    "jacobian_singular_values",
    "gaussian_inputs",
    "random_labels",
]

#: A (unit, sample) is saturated when its output is this close to an asymptote
#: (as a fraction of the half-range): ``|tanh(z)| > 0.99``.
SATURATION_LEVEL = 0.99

# Two units are copies when their incoming weights and bias differ by at most this
# fraction of the layer's largest weight (exact copies differ by 0; BLAS may round
# identical columns differently in the last bit).
_COPY_RTOL = 1e-12

#: The columns of :func:`layer_stats`, in order.
COLUMNS = [
    "model",
    "layer",
    "kind",
    "fan_in",
    "width",
    "z_mean",
    "z_var",
    "a_mean",
    "a_var",
    "a_sq",
    "grad_var",
    "dW_var",
    "W_var",
    "saturated",
    "dead",
    "copies",
]

_ERRSTATE = dict(over="ignore", invalid="ignore", divide="ignore", under="ignore")


# --- validation ------------------------------------------------------------------------------
def _check_sizes(hidden_layer_sizes) -> tuple[int, ...]:
    if isinstance(hidden_layer_sizes, numbers.Integral) and not isinstance(
        hidden_layer_sizes, bool
    ):
        hidden_layer_sizes = (hidden_layer_sizes,)
    try:
        sizes = tuple(hidden_layer_sizes)
    except TypeError:
        raise ConfigError(
            "hidden_layer_sizes must be a sequence of positive integers, "
            f"got {hidden_layer_sizes!r}"
        ) from None
    if len(sizes) == 0:
        raise ConfigError(
            "hidden_layer_sizes is empty (depth 0): signal propagation needs at least one "
            "hidden layer, e.g. (64,) * 10"
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ConfigError(
                f"hidden layer widths must be positive integers, got {list(sizes)} "
                f"(bad width {s!r})"
            )
    return tuple(int(s) for s in sizes)


def _check_X(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] < 1:
        raise ConfigError(
            f"{name} must be a 2-D array (n_samples, n_features), got shape {X.shape}"
        )
    check_finite(X, name)
    return X


def _check_positive_int(name: str, value, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


# --- building a network at initialization ------------------------------------------------------
def build(
    hidden_layer_sizes: Sequence[int],
    activation: str | _activations.Activation,
    init,
    X: np.ndarray,
    *,
    n_classes: int = 2,
    bias_init="zeros",
    random_state: int = 0,
    n_models: int = 1,
    loss: str = "cross_entropy",
    dtype: str = "float64",
    rng_kind: str = "generator",
) -> tuple[Population, list[np.ndarray]]:
    """A population of freshly initialized networks for ``X`` and its parameters.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int
        Widths of the hidden layers (at least one, all positive).
    activation : str or Activation
    init : str, Initializer, or list of them (one per model)
    X : array (n_samples, n_features)
        Only its number of features is used (and the data, for ``lsuv``).
    n_classes : int
        Output size (the softmax layer).
    bias_init : str or list
    random_state : int
        Model ``m`` is seeded with ``random_state + m``.
    n_models : int

    Returns
    -------
    population : Population
    params : list of arrays ``[W1, b1, ...]``
    """
    sizes = _check_sizes(hidden_layer_sizes)
    X = _check_X(X)
    n_models = _check_positive_int("n_models", n_models)
    n_classes = _check_positive_int("n_classes", n_classes, 2)
    loss_fn = _losses.get(loss)
    pop = Population(
        (X.shape[1], *sizes, loss_fn.n_outputs(n_classes)), activation, loss_fn, n_models, dtype
    )
    seeds = [int(random_state) + m for m in range(n_models)]
    params = init_params(pop, seeds, init, bias_init, rng_kind, X=X)
    return pop, params


def gaussian_inputs(n_samples: int, n_features: int, random_state: int = 0) -> np.ndarray:
    """``n_samples`` standard normal inputs, each rescaled to ``|x|^2 / n_features = 1``.

    The usual probe of signal-propagation studies: every input has the same
    squared length per feature, ``q0 = 1``.
    """
    n_samples = _check_positive_int("n_samples", n_samples)
    n_features = _check_positive_int("n_features", n_features)
    X = np.random.default_rng(random_state).standard_normal((n_samples, n_features))
    return X / np.sqrt((X**2).mean(axis=1, keepdims=True))


# --- per-layer statistics ----------------------------------------------------------------------
def _asymptotes(act: _activations.Activation) -> tuple[float, float]:
    big = np.array([-1e4, 1e4])
    lo, hi = act(big)
    return float(np.mean(lo)), float(np.mean(hi))


def count_copies(W: np.ndarray, b: np.ndarray, rtol: float = _COPY_RTOL) -> int:
    """How many units of a layer duplicate another unit of the same layer.

    Parameters
    ----------
    W : array (n_in, n_out)
        Incoming weights; unit ``j`` is column ``j``.
    b : array (n_out,)
    rtol : float
        Units ``j`` and ``k`` are copies when ``max |w_j - w_k|`` (bias included)
        is at most ``rtol`` times the largest absolute weight of the layer.

    Returns
    -------
    int
        ``n_out - (number of distinct units)``: 0 when all differ, ``n_out - 1``
        when all are identical (zero initialization).
    """
    units = np.concatenate([np.asarray(W).T, np.asarray(b)[:, None]], axis=1)  # (n_out, n_in+1)
    if units.shape[0] < 2 or not np.isfinite(units).all():
        return 0
    tol = rtol * float(np.abs(units).max(initial=0.0))
    # Copies have (nearly) equal projections on any fixed direction: sort the units by
    # one projection and compare in full only the runs of neighbours that are that close.
    r = np.linspace(1.0, 2.0, units.shape[1])
    proj = units @ r
    order = np.argsort(proj, kind="stable")
    close = np.diff(proj[order]) <= tol * r.sum() * (1 + 1e-9)
    copies = 0
    start = 0
    for i in range(1, len(order) + 1):
        if i < len(order) and close[i - 1]:
            continue
        run = order[start:i]  # a run of units with near-equal projections
        if len(run) > 1:
            block = units[np.sort(run)]
            for j in range(1, len(block)):
                if (np.abs(block[:j] - block[j]).max(axis=1) <= tol).any():
                    copies += 1
        start = i
    return copies


def _pooled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance over every axis but the first (models)."""
    flat = x.reshape(x.shape[0], -1)
    return flat.mean(axis=1), flat.var(axis=1)


def layer_rows(
    layer: int,
    W: np.ndarray,
    b: np.ndarray,
    z: np.ndarray,
    a: np.ndarray,
    *,
    activation: _activations.Activation,
    hidden: bool,
    grad: np.ndarray | None = None,
    dW: np.ndarray | None = None,
    saturation: float = SATURATION_LEVEL,
) -> list[dict]:
    """The :data:`COLUMNS` of one layer, one row per model, from the layer's arrays.

    The one definition of every column, shared by :func:`layer_stats` and the PyTorch
    bridge (:func:`initlab.torch.diagnose`).  Statistics pool every axis but the models'.

    Parameters
    ----------
    layer : int
        The layer's number (from 1).
    W : array (M, fan_in, width)
        Incoming weights; unit ``j`` is column ``j`` (a convolution's filters flattened).
    b : array (M, width)
    z, a : arrays (M, N, width, ...)
        Pre-activations and outputs on ``N`` inputs; units on axis 2, then any positions
        (a convolution's channels and pixels).
    activation : Activation
        The layer's activation (for ``saturated`` and ``dead``).
    hidden : bool
        False for the output layer (no saturated, dead or copies).
    grad : array like ``z``, optional
        Per-sample back-propagated gradient ``dL_n / dz``.
    dW : array like ``W``, optional
        Gradient of the (batch-mean) loss with respect to ``W``.
    """
    M = z.shape[0]
    with np.errstate(**_ERRSTATE):
        z_mean, z_var = _pooled(z)
        a_mean, a_var = _pooled(a)
        a_sq = (a * a).reshape(M, -1).mean(axis=1)
        _, W_var = _pooled(W)
        if grad is not None and dW is not None:
            _, grad_var = _pooled(grad)
            _, dW_var = _pooled(dW)
        else:
            grad_var = dW_var = np.full(M, np.nan)
        if hidden and activation.saturates:
            lo, hi = _asymptotes(activation)
            u = np.abs(2 * a - (hi + lo)) / (hi - lo)
            saturated = (u > saturation).reshape(M, -1).mean(axis=1)
        else:
            saturated = np.full(M, np.nan)
        if hidden and activation.rectifies:
            # units dead for every sample (and every position)
            per_unit = (z <= 0).all(axis=(1, *range(3, z.ndim)))
            dead = per_unit.mean(axis=1)
        else:
            dead = np.full(M, np.nan)
    return [
        {
            "model": m,
            "layer": layer,
            "kind": "hidden" if hidden else "output",
            "fan_in": W.shape[1],
            "width": W.shape[2],
            "z_mean": z_mean[m],
            "z_var": z_var[m],
            "a_mean": a_mean[m],
            "a_var": a_var[m],
            "a_sq": a_sq[m],
            "grad_var": grad_var[m],
            "dW_var": dW_var[m],
            "W_var": W_var[m],
            "saturated": saturated[m],
            "dead": dead[m],
            "copies": float(count_copies(W[m], b[m])) if hidden else np.nan,
        }
        for m in range(M)
    ]


def layer_stats(
    population: Population,
    params: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray | None = None,
    *,
    saturation: float = SATURATION_LEVEL,
) -> pd.DataFrame:
    """Per-layer forward, backward and pathology statistics of a population on ``X``.

    Parameters
    ----------
    population : Population
    params : list of arrays ``[W1, b1, ...]``
    X : array (n_samples, n_features)
    y : array of int (n_samples,), optional
        Labels ``0..K-1``; without them the gradient columns are NaN.
    saturation : float in (0, 1)
        See :data:`SATURATION_LEVEL`.

    Returns
    -------
    pandas.DataFrame
        One row per model and layer (layers numbered from 1; the last one is the
        output layer, ``kind="output"``, whose ``a`` are the class probabilities),
        with the columns of :data:`COLUMNS` (see the module docstring).
    """
    if not 0 < saturation < 1:
        raise ConfigError(f"saturation must be in (0, 1), got {saturation!r}")
    X = _check_X(X)
    d = population.layer_sizes[0]
    if X.shape[1] != d:
        raise ConfigError(f"X has {X.shape[1]} features; the network expects {d}")
    if y is not None:
        y = np.asarray(y)
        if y.shape != (X.shape[0],):
            raise ConfigError(f"y has shape {y.shape}; expected ({X.shape[0]},) labels for X")
        K = population.n_classes
        if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= K:
            raise ConfigError(
                f"y must hold integer labels 0..{K - 1}, got values {np.unique(y)[:5]}"
            )
    trace = population.trace(params, X, y)
    n, L = X.shape[0], population.n_layers
    rows = []
    for layer in range(L):
        rows += layer_rows(
            layer + 1,
            params[2 * layer],
            params[2 * layer + 1],
            trace["z"][layer],
            trace["a"][layer],
            activation=population.activation,
            hidden=layer < L - 1,
            grad=None if y is None else trace["delta"][layer] * n,
            dW=None if y is None else trace["dW"][layer],
            saturation=saturation,
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def propagation(
    hidden_layer_sizes: Sequence[int],
    activation: str | _activations.Activation,
    init,
    X: np.ndarray,
    bias_init="zeros",
    random_state: int = 0,
    n_models: int = 1,
    *,
    y: np.ndarray | None = None,
    n_classes: int | None = None,
    saturation: float = SATURATION_LEVEL,
    dtype: str = "float64",
) -> pd.DataFrame:
    """Per-layer signal-propagation statistics of freshly initialized networks.

    The measurement of Glorot & Bengio (2010, Figs. 6-7) and He et al. (2015,
    Sec. 2.2): build ``n_models`` networks with the given hidden layers,
    activation and initializer, feed ``X`` through them and report, layer by
    layer, the statistics of :func:`layer_stats`.

    Parameters
    ----------
    hidden_layer_sizes : sequence of int
        E.g. ``(256,) * 30``.
    activation : str or Activation
    init : str, Initializer, or list of them (one per model)
        E.g. ``"he"``, ``"xavier_uniform"``,
        ``initializers.variance_scaling(1/3, "fan_in", "uniform")`` (Glorot's
        "standard" ``U[-1/sqrt(n), 1/sqrt(n)]``).
    X : array (n_samples, n_features)
        Inputs; :func:`gaussian_inputs` is the usual probe.
    bias_init : str, default "zeros"
    random_state : int, default 0
        Model ``m`` is seeded with ``random_state + m``.
    n_models : int, default 1
    y : array of int, optional
        Labels ``0..K-1`` for the gradient columns.  Without them, labels are
        drawn uniformly at random from ``n_classes`` classes (seeded by
        ``random_state``), which is what a network at initialization sees anyway.
    n_classes : int, optional
        Output size; default the number of classes in ``y``, or 2.

    Returns
    -------
    pandas.DataFrame
        One row per (model, layer); see :data:`COLUMNS`.

    Examples
    --------
    >>> X = gaussian_inputs(256, 100)
    >>> df = propagation((100,) * 10, "relu", "he", X)
    >>> bool(abs(df.z_var.iloc[8] / df.z_var.iloc[0] - 1) < 0.5)
    True
    """
    X = _check_X(X)
    if y is not None:
        y = np.asarray(y)
        if n_classes is None:
            n_classes = max(int(y.max()) + 1, 2)
    if n_classes is None:
        n_classes = 2
    pop, params = build(
        hidden_layer_sizes,
        activation,
        init,
        X,
        n_classes=n_classes,
        bias_init=bias_init,
        random_state=random_state,
        n_models=n_models,
        dtype=dtype,
    )
    if y is None:
        y = random_labels(X.shape[0], n_classes, random_state)
    return layer_stats(pop, params, X, y, saturation=saturation)


def random_labels(n_samples: int, n_classes: int, random_state: int = 0) -> np.ndarray:
    """Labels drawn uniformly from ``n_classes`` classes, for gradients at initialization.

    What a network at initialization sees anyway; seeded by ``random_state`` (the stream
    ``[random_state, 1]``, apart from the weights' generators).
    """
    return np.random.default_rng([int(random_state), 1]).integers(0, n_classes, n_samples)


def diagnose(
    net: FFNetwork, X: np.ndarray, y: np.ndarray | None = None, *, saturation=SATURATION_LEVEL
) -> pd.DataFrame:
    """:func:`layer_stats` of a fitted :class:`~initlab.FFNetwork` on ``X`` (and labels ``y``).

    ``y`` holds the network's original class labels (as given to ``fit``).
    """
    if not hasattr(net, "coefs_"):
        raise ConfigError("the network is not fitted yet: call fit first (or use propagation)")
    X = _check_X(X)
    if X.shape[1] != net.n_features_in_:
        raise ConfigError(f"X has {X.shape[1]} features; the network expects {net.n_features_in_}")
    yy = None if y is None else net.encode(y)
    return layer_stats(net.population_, net._params(), X, yy, saturation=saturation)


def record(
    net: FFNetwork,
    X: np.ndarray,
    y: np.ndarray,
    every: int = 1,
    epochs: int | None = None,
    X_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    *,
    saturation: float = SATURATION_LEVEL,
) -> pd.DataFrame:
    """Train an :class:`~initlab.FFNetwork` configuration, diagnosing it every ``every`` epochs.

    The network is trained exactly as ``net.fit(X, y, X_val, y_val)`` would
    (same initial weights, optimizer and batches; ``net`` itself is left
    untouched), and :func:`layer_stats` on the training data is recorded at
    epoch 0, every ``every`` epochs, and at the last epoch.

    Parameters
    ----------
    net : FFNetwork
        The configuration (its ``epochs`` unless ``epochs`` is given).
    X, y : arrays
        Training data; ``y`` with the original labels.
    every : int, default 1
    epochs : int, optional

    Returns
    -------
    pandas.DataFrame
        The :data:`COLUMNS` plus ``epoch``, ``train_loss``, ``train_acc``
        (and ``val_loss``, ``val_acc``) and ``W_moved``, the largest absolute
        change of the layer's weights since initialization.
    """
    from sklearn.base import clone

    if not isinstance(net, FFNetwork):
        raise TypeError(f"net must be an FFNetwork configuration, got {type(net).__name__}")
    every = _check_positive_int("every", every)
    net = clone(net)
    if epochs is not None:
        net.set_params(epochs=_check_positive_int("epochs", epochs))
    spec = net.spec()  # the estimator's run, checked
    X = _check_X(X)
    classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
    if len(y_enc) != X.shape[0]:
        raise ConfigError(f"X has {X.shape[0]} rows but y has {len(y_enc)} labels")
    if len(classes) < 2:
        raise ConfigError(f"y has a single class ({classes[0]!r}); a classifier needs at least 2")
    kwargs = {}
    if X_val is not None and y_val is not None:
        y_val = np.asarray(y_val)
        unknown = np.setdiff1d(y_val, classes)
        if len(unknown):
            raise ConfigError(f"y_val has labels not seen in y: {unknown[:5].tolist()}")
        kwargs = {"X_val": _check_X(X_val, "X_val"), "y_val": np.searchsorted(classes, y_val)}
    pop, params0, optimizer = runs.populate([spec], X.shape[1], len(classes), X)
    frames = []

    def snap(params, epoch, metrics):
        df = layer_stats(pop, params, X, y_enc, saturation=saturation)
        df.insert(0, "epoch", epoch)
        for key, value in metrics.items():
            df[key] = float(value[0])
        df["W_moved"] = [
            float(np.abs(params[2 * (layer - 1)] - params0[2 * (layer - 1)]).max())
            for layer in df["layer"]
        ]
        frames.append(df)

    def callback(trainer):
        if trainer.epoch % every == 0 or trainer.epoch == spec.epochs:
            snap(trainer.params, trainer.epoch, trainer.metrics())

    trainer0 = engine.Trainer(pop, params0, optimizer, X, y_enc, record=False, **kwargs)
    snap(params0, 0, trainer0.metrics())
    engine.train(
        pop,
        params0,
        optimizer,
        X,
        y_enc,
        spec.epochs,
        callback=callback,
        batch_size=spec.batch_size,
        shuffle=spec.shuffle,
        shuffle_seed=spec.shuffle_seed,
        **kwargs,
    )
    return pd.concat(frames, ignore_index=True)


# --- input-output Jacobian ---------------------------------------------------------------------
def jacobian(
    population: Population,
    params: Sequence[np.ndarray],
    X: np.ndarray,
    include_output: bool = False,
) -> np.ndarray:
    """Input-output Jacobian of every model at every row of ``X``.

    By forward-mode products, one layer at a time: with ``a_l = phi(z_l)`` and
    ``z_l = a_{l-1} W_l + b_l``, ``J_l = D_l W_l^T J_{l-1}`` where
    ``D_l = diag(phi'(z_l))`` and ``J_0 = I``.

    Parameters
    ----------
    population, params
    X : array (n_samples, n_features)
    include_output : bool, default False
        False: the Jacobian of the last *hidden* activation (the deep
        nonlinear map of Pennington et al. 2017); True: of the output
        logits (one more ``W_L^T``, no softmax).

    Returns
    -------
    array (M, n_samples, n_out, n_features)
    """
    X = _check_X(X)
    d = population.layer_sizes[0]
    if X.shape[1] != d:
        raise ConfigError(f"X has {X.shape[1]} features; the network expects {d}")
    with np.errstate(**_ERRSTATE):
        zs = population.forward(params, X).zs  # feature-major (F, M, N)
        act = population.activation
        M, N = population.n_models, X.shape[0]
        # J is kept unit-major, (M, units, N * d), so that each layer is one batched
        # BLAS product W^T J over all inputs at once.
        J = None
        for layer in range(population.n_layers - 1):
            Wt = params[2 * layer].transpose(0, 2, 1)  # (M, out, in)
            D = act.grad(zs[layer]).transpose(1, 0, 2)  # (M, out, N)
            if J is None:
                J = Wt[:, :, None, :] * D[..., None]  # (M, out, N, d)
            else:
                J = np.matmul(Wt, J.reshape(M, J.shape[1], N * d)).reshape(M, -1, N, d)
                J *= D[..., None]
        if include_output:
            Wt = params[-2].transpose(0, 2, 1)
            if J is None:
                J = np.broadcast_to(Wt[:, :, None, :], (M, Wt.shape[1], N, d))
            else:
                J = np.matmul(Wt, J.reshape(M, J.shape[1], N * d)).reshape(M, -1, N, d)
    return np.ascontiguousarray(J.transpose(0, 2, 1, 3))


def jacobian_singular_values(
    hidden_layer_sizes: Sequence[int],
    activation: str | _activations.Activation,
    init,
    X: np.ndarray,
    bias_init="zeros",
    random_state: int = 0,
    n_models: int = 1,
    include_output: bool = False,
) -> np.ndarray:
    """Singular values of the input-output Jacobian of networks at initialization.

    The spectrum plotted by Saxe et al. (2013) for deep linear networks and by
    Pennington, Schoenholz & Ganguli (2017) for nonlinear ones: *dynamical
    isometry* means every singular value is close to 1 (orthogonal weights in a
    linear network give exactly 1).

    Returns
    -------
    array (n_models, n_samples, min(n_out, n_features)), descending.
    """
    pop, params = build(
        hidden_layer_sizes,
        activation,
        init,
        X,
        bias_init=bias_init,
        random_state=random_state,
        n_models=n_models,
    )
    J = jacobian(pop, params, X, include_output=include_output)
    return np.linalg.svd(J, compute_uv=False)
