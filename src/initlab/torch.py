"""PyTorch models seen through initlab: per-layer diagnostics by hooks, initlab's initializers.

* :func:`diagnose` runs a model on ``X`` with forward and backward hooks and returns the
  per-layer table of :mod:`initlab.diagnostics` (variances of pre-activations,
  activations and back-propagated gradients, saturated and dead units, copies) for every
  ``nn.Linear`` and ``nn.Conv1d/2d/3d`` layer, in the order they run;
* :func:`init_` draws a model's weights in place with an initlab initializer (``"he_normal"``,
  ``"lsuv"``, the edge of chaos ``"critical"``, ...), from the same generator and in the
  same order as :func:`initlab.engine.init_params`, so a torch MLP and an initlab network
  of the same sizes and seed start from the same weights.

The statistics are computed by :func:`initlab.diagnostics.layer_rows`, the one
definition initlab's own networks use; a torch model built to match an initlab network
gives the same table to rounding.  For a convolution the units are its channels (a
channel is dead when it is <= 0 at every position of every input), its filters are the
columns of ``W`` (``fan_in = in_channels x kernel size``), and the initializers use
torch's fans (``fan_out = out_channels x kernel size``).

The activation after each layer is read from the first activation module that runs
after it (``nn.ReLU``, ``nn.Tanh``, ``nn.GELU``, ... see :data:`ACTIVATIONS`); a model
that calls ``torch.nn.functional`` instead names it with ``activation=``, and ``a`` is
then the input of the next layer.

This module needs PyTorch (``pip install 'initlab[torch]'``); ``import initlab`` never
imports it.

Examples
--------
>>> import torch
>>> from initlab import torch as itorch
>>> model = torch.nn.Sequential(
...     torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
... ).double()
>>> _ = itorch.init_(model, "he_normal", seed=0)
>>> X = torch.randn(256, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
>>> df = itorch.diagnose(model, X)
>>> df["kind"].tolist()
['hidden', 'output']
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

try:
    import torch
    from torch import nn
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        f"initlab.torch needs PyTorch: pip install 'initlab[torch]' ({exc})"
    ) from None

from . import activations as _activations
from . import diagnostics, meanfield
from . import initializers as _initializers
from .errors import ConfigError

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "activation_of",
    "diagnose",
    "init_",
    "inputs_for",
    "layers",
    "load",
]

#: The layers diagnosed and initialized.
LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)

#: torch activation modules and the initlab activation each one computes.
ACTIVATIONS: dict[type, Callable[[nn.Module], _activations.Activation]] = {
    nn.Sigmoid: lambda m: _activations.get("sigmoid"),
    nn.Tanh: lambda m: _activations.get("tanh"),
    nn.ReLU: lambda m: _activations.get("relu"),
    nn.LeakyReLU: lambda m: _activations.get("leaky_relu", slope=float(m.negative_slope)),
    nn.ELU: lambda m: _activations.get("elu", alpha=float(m.alpha)),
    nn.SELU: lambda m: _activations.get("selu"),
    nn.GELU: lambda m: _gelu(m),
    nn.SiLU: lambda m: _activations.get("silu"),
    nn.Softplus: lambda m: _softplus(m),
    nn.Mish: lambda m: _activations.get("mish"),
    nn.Identity: lambda m: _activations.get("linear"),
}


def _gelu(m: nn.GELU) -> _activations.Activation:
    if m.approximate != "none":
        raise ConfigError(
            f"nn.GELU(approximate={m.approximate!r}) is not initlab's gelu (the erf form); "
            f"use nn.GELU() or pass activation=",
            "activation",
        )
    return _activations.get("gelu")


def _softplus(m: nn.Softplus) -> _activations.Activation:
    if m.beta != 1:
        raise ConfigError(f"nn.Softplus(beta={m.beta}) is not initlab's softplus (beta 1)")
    return _activations.get("softplus")  # torch's threshold (linear past 20) differs < 2e-9


def _leaves(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if not list(m.children())]


def layers(model: nn.Module) -> list[nn.Module]:
    """The ``Linear`` and ``Conv`` layers of ``model``, in the order they were registered."""
    found = [m for m in model.modules() if isinstance(m, LAYERS)]
    if not found:
        raise ConfigError(
            f"{type(model).__name__} has no nn.Linear or nn.Conv1d/2d/3d layer to diagnose "
            f"or initialize",
            "model",
        )
    return found


def activation_of(module: nn.Module) -> _activations.Activation | None:
    """The initlab activation a torch activation module computes (``None`` if not one)."""
    make = ACTIVATIONS.get(type(module))
    return None if make is None else make(module)


def _activation_arg(activation) -> _activations.Activation | None:
    if activation is None:
        return None
    return _activations.get(activation)


def _model_activation(model: nn.Module) -> _activations.Activation:
    """The one kind of activation module in ``model`` (for ``init_(..., "critical")``)."""
    kinds = {}
    for m in _leaves(model):
        act = activation_of(m)
        if act is not None and act.name != "linear":
            kinds[act.name] = act
    if len(kinds) != 1:
        found = ", ".join(sorted(kinds)) or "none"
        raise ConfigError(
            f"cannot tell the activation of {type(model).__name__} (activation modules found: "
            f"{found}); pass activation=",
            "activation",
        )
    return next(iter(kinds.values()))


def _as_matrix(weight: torch.Tensor) -> np.ndarray:
    """A layer's weight as initlab lays it out: ``(fan_in, width)``, unit ``j`` column ``j``."""
    w = weight.detach().cpu().numpy()
    return w.reshape(w.shape[0], -1).T


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _labels(y, n: int, device) -> torch.Tensor:
    y = torch.from_numpy(np.array(y)).to(device)  # a copy: labels may be read-only
    if y.shape != (n,) or y.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise ConfigError(f"y must hold {n} integer labels, got shape {tuple(y.shape)}", "y")
    return y.long()


def diagnose(
    model: nn.Module,
    X,
    y=None,
    *,
    activation: str | _activations.Activation | None = None,
    saturation: float = diagnostics.SATURATION_LEVEL,
) -> pd.DataFrame:
    """Per-layer signal-propagation statistics of a PyTorch model on ``X`` (and labels ``y``).

    The table of :func:`initlab.diagnostics.layer_stats` for any ``nn.Module`` built from
    ``nn.Linear`` and ``nn.Conv`` layers, measured with forward hooks (pre-activations
    ``z``, the activations ``a`` that follow) and, with labels, one backward pass of the
    mean cross-entropy of the model's output (``dL_n / dz`` per sample, ``dL / dW``).
    The model's parameters are left as they were (their ``.grad`` is restored).

    Parameters
    ----------
    model : torch.nn.Module
        Its output are the logits; the last Linear/Conv layer is the ``"output"`` layer
        (its ``a`` are the softmax probabilities).
    X : array or tensor
        Inputs, shaped as the model expects (converted to the model's dtype).
    y : array of int, optional
        Class labels ``0..K-1``; without them the gradient columns are NaN
        (:func:`initlab.diagnostics.random_labels` draws some).
    activation : str or Activation, optional
        The hidden activation, for models that apply it functionally (``F.relu``).
    saturation : float
        See :data:`initlab.diagnostics.SATURATION_LEVEL`.

    Returns
    -------
    pandas.DataFrame
        One row per layer, the columns of :data:`initlab.diagnostics.COLUMNS` (``model``
        is 0).
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}", "model")
    if not 0 < saturation < 1:
        raise ConfigError(f"saturation must be in (0, 1), got {saturation!r}", "saturation")
    given = _activation_arg(activation)
    chosen = layers(model)
    first = next(model.parameters())
    Xt = (
        X if torch.is_tensor(X) else torch.from_numpy(np.array(X))
    )  # a copy: data sets are read-only
    Xt = Xt.to(dtype=first.dtype, device=first.device)
    n = Xt.shape[0]
    if n < 1 or not torch.isfinite(Xt).all():
        raise ConfigError("X must hold at least one row of finite values", "X")
    saved = [(p, p.grad) for p in model.parameters()]
    try:
        for p in model.parameters():
            p.grad = None
        with _Recorder(model, chosen) as rec, torch.enable_grad():
            out = model(Xt)
            if y is not None:
                torch.nn.functional.cross_entropy(out, _labels(y, n, out.device)).backward()
        missing = [i + 1 for i in range(len(chosen)) if i not in rec.z]
        if missing:
            raise ConfigError(f"layers {missing} did not run on X", "model")
        rows = []
        for i in range(len(chosen)):
            rows += _rows(rec, i, given, n if y is not None else None, saturation)
    finally:
        for p, g in saved:
            p.grad = g
    return pd.DataFrame(rows, columns=diagnostics.COLUMNS)


class _Recorder:
    """Forward hooks keeping each layer's input, its output ``z`` (gradient retained) and
    the output of the first activation module that runs after it."""

    def __init__(self, model: nn.Module, chosen: list[nn.Module]):
        self.model, self.chosen = model, chosen
        self.index = {id(m): i for i, m in enumerate(chosen)}
        self.z: dict[int, torch.Tensor] = {}
        self.inputs: dict[int, torch.Tensor] = {}
        self.after: dict[int, tuple[_activations.Activation, torch.Tensor]] = {}
        self.last: int | None = None  # the most recent layer that ran
        self.handles: list = []

    def __enter__(self) -> _Recorder:
        for m in self.chosen:
            self.handles.append(m.register_forward_pre_hook(self._pre))
            self.handles.append(m.register_forward_hook(self._out))
        for m in _leaves(self.model):
            if type(m) in ACTIVATIONS:
                self.handles.append(m.register_forward_hook(self._act))
        return self

    def __exit__(self, *exc) -> None:
        for h in self.handles:
            h.remove()

    def _pre(self, module, args):
        self.inputs[self.index[id(module)]] = args[0].detach().clone()

    def _out(self, module, args, output):
        i = self.index[id(module)]
        if i in self.z:
            raise ConfigError(
                f"layer {i + 1} ({type(module).__name__}) runs twice in one forward pass; "
                f"shared layers are not supported",
                "model",
            )
        self.z[i] = output
        if output.requires_grad:
            output.retain_grad()
        self.last = i
        return output.clone()  # so an in-place activation cannot overwrite z

    def _act(self, module, args, output):
        act = activation_of(module)
        if self.last is not None and self.last not in self.after and act is not None:
            self.after[self.last] = (act, output.detach().clone())


def _rows(rec: _Recorder, i: int, given, n: int | None, saturation: float) -> list[dict]:
    """The :data:`~initlab.diagnostics.COLUMNS` of layer ``i`` from what ``rec`` recorded.

    ``n`` is the batch size when a backward pass ran (the gradient is then per sample,
    ``n`` times that of the batch-mean loss), ``None`` otherwise.
    """
    module = rec.chosen[i]
    hidden = i < len(rec.chosen) - 1
    W = _as_matrix(module.weight)
    b = _numpy(module.bias) if module.bias is not None else np.zeros(W.shape[1], dtype=W.dtype)
    linear = _activations.get("linear")
    if not hidden:  # the output layer's "activations" are the class probabilities
        act, a = given or linear, _numpy(torch.softmax(rec.z[i].detach(), dim=1))
    elif i in rec.after:
        act, a = rec.after[i][0], _numpy(rec.after[i][1])
    else:  # a functional activation: the next layer's input
        act, a = linear, _numpy(rec.inputs[i + 1])
    grad = dW = None
    if n is not None:
        grad = _numpy(rec.z[i].grad)[None] * n
        dW = _as_matrix(module.weight.grad)[None]
    return diagnostics.layer_rows(
        i + 1,
        W[None],
        b[None],
        _numpy(rec.z[i])[None],
        a[None],
        activation=given or act,
        hidden=hidden,
        grad=grad,
        dW=dW,
        saturation=saturation,
    )


def _fans(module: nn.Module) -> tuple[int, int]:
    """torch's fans: ``in x kernel`` and ``out x kernel`` (``Linear``: in and out)."""
    w = module.weight
    receptive = int(np.prod(w.shape[2:])) if w.dim() > 2 else 1
    return int(w.shape[1]) * receptive, int(w.shape[0]) * receptive


def init_(
    model: nn.Module,
    init: str | _initializers.Initializer = "he_normal",
    *,
    activation: str | _activations.Activation | None = None,
    sigma_b2: float = 0.0,
    bias_init: str = "zeros",
    q0: float = 1.0,
    X=None,
    seed: int = 0,
    rng_kind: str = "generator",
    lsuv_tol: float = 0.1,
    lsuv_max_iter: int = 10,
) -> nn.Module:
    """Initialize ``model``'s Linear and Conv layers in place with an initlab initializer.

    Layer by layer, in registration order, the weights and then the biases are drawn
    from one generator seeded by ``seed`` (``numpy.random.default_rng``, or the legacy
    ``RandomState`` with ``rng_kind="legacy"``), exactly as
    :func:`initlab.engine.init_params` draws a network: the same distributions (they
    are initlab's own initializers) and, for an MLP, the same numbers.

    Parameters
    ----------
    model : torch.nn.Module
    init : str or Initializer
        A registered initializer (``"he_normal"``, ``"xavier_uniform"``, ``"orthogonal"``,
        ``"lsuv"``, ...) or ``"critical"``: ``W ~ N(0, sigma_w^2 / fan_in)`` on the edge
        of chaos of the model's activation (:func:`initlab.meanfield.initializers_for`).
    activation : str or Activation, optional
        For ``"critical"``: the activation (default: the model's one kind of activation
        module).
    sigma_b2 : float
        Biases ``N(0, sigma_b2)`` when > 0 (and the edge of chaos at that bias variance).
    bias_init : str
        Otherwise this bias initializer (zeros by default).
    q0 : float
        Input variance for ``"critical"``.
    X : array or tensor
        Data for ``"lsuv"`` (Mishkin & Matas 2016): from orthogonal weights, each layer in
        turn is rescaled until its outputs on ``X`` have variance within ``lsuv_tol`` of 1
        (as :func:`initlab.engine.lsuv`).
    seed : int
    rng_kind : {"generator", "legacy"}

    Returns
    -------
    torch.nn.Module
        ``model`` itself.
    """
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, got {type(model).__name__}", "model")
    chosen = layers(model)
    name = init.name if isinstance(init, _initializers.Initializer) else init
    if isinstance(init, _initializers.Initializer):
        w_init = init
        _, b_init = meanfield.initializers_for(
            "linear", "zeros", sigma_b2=sigma_b2, bias_init=bias_init
        )
    else:
        critical = isinstance(init, str) and init.strip().lower() == "critical"
        act = _activation_arg(activation) or (_model_activation(model) if critical else None)
        w_init, b_init = meanfield.initializers_for(
            act or "linear", init, sigma_b2=sigma_b2, q0=q0, bias_init=bias_init
        )
    if w_init.data_dependent and X is None:
        raise ConfigError(f"the {name!r} initializer needs data: pass X", "X")
    rng = _initializers.make_rng(seed, rng_kind)
    with torch.no_grad():
        for module in chosen:
            dtype = np.dtype(str(module.weight.dtype).removeprefix("torch."))
            fan_in, fan_out = _fans(module)
            width = int(module.weight.shape[0])
            W = w_init(rng, (fan_in, width), dtype)
            # a convolution's fan-out is out_channels x kernel (torch's, and the backward
            # pass's): rescale to the variance the initializer gives for those fans
            drawn, wanted = w_init.variance(fan_in, width), w_init.variance(fan_in, fan_out)
            if wanted != drawn and math.isfinite(wanted) and drawn > 0:
                W = W * dtype.type(math.sqrt(wanted / drawn))
            W = torch.from_numpy(np.ascontiguousarray(W.T))
            module.weight.copy_(W.reshape_as(module.weight))
            b = b_init(rng, (width,), dtype)
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(b))
    if w_init.data_dependent:
        _lsuv(model, chosen, X, lsuv_tol, lsuv_max_iter)
    return model


def _lsuv(model, chosen, X, tol: float, max_iter: int, max_samples: int = 1024) -> None:
    """Mishkin & Matas (2016): rescale each layer until its output variance on X is 1."""
    first = next(model.parameters())
    Xt = (
        X if torch.is_tensor(X) else torch.from_numpy(np.array(X))
    )  # a copy: data sets are read-only
    Xt = Xt.to(dtype=first.dtype, device=first.device)[:max_samples]
    seen = {}

    def keep(module, args, output):
        seen["z"] = output

    for module in chosen:
        handle = module.register_forward_hook(keep)
        try:
            for _ in range(max_iter):
                with torch.no_grad():
                    model(Xt)
                var = float(seen["z"].var(unbiased=False))
                if not math.isfinite(var) or var <= 0 or abs(var - 1) <= tol:
                    break
                with torch.no_grad():
                    module.weight.mul_(1 / math.sqrt(var))
        finally:
            handle.remove()


def load(spec: str) -> nn.Module:
    """The model made by ``"module:factory"`` (or ``"path/to/file.py:factory"``).

    ``factory`` is called without arguments if it is callable (a function or a Module
    class); otherwise it must already be an ``nn.Module``.  This is what
    ``initlab diagnose --torch`` loads.
    """
    import importlib
    import importlib.util
    from pathlib import Path

    module_name, sep, attr = str(spec).rpartition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(
            f"expected MODULE:FACTORY or FILE.py:FACTORY, got {spec!r} "
            f"(for example my_models:mlp or models.py:make_cnn)",
            "torch",
        )
    path = Path(module_name)
    try:
        if path.suffix == ".py":
            if not path.is_file():
                raise FileNotFoundError(f"no such file: {module_name}")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            mod = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(mod)
        else:
            mod = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}", "torch") from None
    if not hasattr(mod, attr):
        public = sorted(a for a in vars(mod) if not a.startswith("_"))
        raise ConfigError(
            f"{module_name!r} has no {attr!r}; it defines: {', '.join(public)}", "torch"
        )
    made = getattr(mod, attr)
    model = made() if callable(made) and not isinstance(made, nn.Module) else made
    if not isinstance(model, nn.Module):
        raise ConfigError(f"{spec} gave a {type(model).__name__}, not a torch.nn.Module", "torch")
    return model


def inputs_for(
    model: nn.Module, n_samples: int, shape: tuple[int, ...] | None = None, random_state: int = 0
) -> np.ndarray:
    """Gaussian probe inputs for ``model``, each of mean square 1 (as
    :func:`initlab.diagnostics.gaussian_inputs`).

    ``shape`` is one input's shape; by default ``(in_features,)`` of a first ``Linear``
    layer (a first convolution needs it given: its image size is not in the model).
    """
    first = layers(model)[0]
    if shape is None:
        if not isinstance(first, nn.Linear):
            raise ConfigError(
                f"the first layer is a {type(first).__name__}: give the input shape "
                f"(channels, height, width), e.g. --input-shape {first.in_channels},28,28",
                "input_shape",
            )
        shape = (first.in_features,)
    shape = tuple(int(s) for s in shape)
    if not shape or any(s < 1 for s in shape):
        raise ConfigError(f"input shape must be positive integers, got {shape}", "input_shape")
    X = diagnostics.gaussian_inputs(n_samples, int(np.prod(shape)), random_state)
    return X.reshape(n_samples, *shape)
