"""Playground sessions: populations trained epoch by epoch, and the frames the page draws.

A :class:`Session` holds the data set and one :class:`initlab.engine.Population`
with its :class:`initlab.engine.Trainer` per group of networks that share an
activation and an optimizer (single mode: one group of one network; compare
mode: the blog's 4 x 4 grid is four populations of four, one per
activation).  :meth:`Session.advance` trains a few epochs and
:meth:`Session.frame` describes the current state as plain JSON: metrics,
the decision boundary on a coarse grid, and in single mode per-layer
activation and gradient statistics, dead/saturated units and per-parameter
updates for the blog's sparklines.

Sessions are thread-safe (a lock around every method), so the web layer can
train in worker threads.  :class:`SessionStore` bounds how many exist and
drops idle ones.  Nothing here imports Starlette.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import activations as _activations
from .. import datasets as _datasets
from .. import runs as _runs
from .. import sweep as _sweep
from ..engine import Population, Trainer
from . import netview as _netview
from .config import ConfigError, Limits, PlaygroundConfig, epoch_seconds, with_seed

__all__ = ["Session", "SessionStore", "SessionLimitError", "unit_activity"]

#: The largest weight the network view's editor accepts (beyond it, units saturate anyway).
_MAX_WEIGHT = 100.0

_METRICS = _runs.METRICS
#: A sample is "inactive" for a unit when |f'(z)| is below this fraction of the
#: activation's largest slope (relu: z < 0; sigmoid: |z| > 4.4; tanh: |z| > 2.2).
_INACTIVE_SLOPE = 0.05
#: A unit inactive on at least this fraction of the samples is flagged dead/saturated.
_FLAG_FRACTION = 0.95
#: Samples used for the per-layer statistics (a fixed subset of the training set).
_STAT_SAMPLES = 256
#: The network view's unit pictures: ``_UNIT_GRID x _UNIT_GRID`` points over the plane.
_UNIT_GRID = 16
#: Units drawn per layer in the network view (the first ones; wider layers say so).
_DIAGRAM_UNITS = 16


def _b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii")


def _finite(x: Any) -> float | None:
    """A JSON-safe float: NaN/inf become None."""
    x = float(x)
    return x if np.isfinite(x) else None


def unit_activity(activation: _activations.Activation, z: np.ndarray) -> np.ndarray:
    """Fraction of samples on which each unit is inactive (dead or saturated).

    Parameters
    ----------
    activation : Activation
    z : ndarray, shape (N, F)
        Pre-activations of one layer.

    Returns
    -------
    ndarray, shape (F,)
        Per unit, the fraction of samples where ``|f'(z)|`` is below
        ``0.05`` times the activation's largest slope on ``[-6, 6]``: a ReLU
        unit with negative input, a sigmoid or tanh unit far in its tails.
        Leaky ReLU with slope 0.1 is never inactive, which is its point.
    """
    ref = np.linspace(-6, 6, 241)
    with np.errstate(all="ignore"):
        peak = float(np.max(np.abs(activation.grad(ref, activation(ref)))))
        slope = np.abs(activation.grad(z, activation(z)))
    if not np.isfinite(peak) or peak == 0:
        return np.zeros(z.shape[-1])
    return (slope < _INACTIVE_SLOPE * peak).mean(axis=0)


@dataclass
class _Group:
    """Networks sharing an activation and an optimizer: one Population, one Trainer."""

    population: Population
    initial: list[np.ndarray]
    trainer: Trainer
    models: list[int]  # indices into Session.models
    optimizer: Any
    spec: Any  # the first model's RunSpec: what the group shares


class Session:
    """One page's training run (single network or a compare grid).

    Parameters
    ----------
    config : PlaygroundConfig
        Validated (see :func:`initlab.web.config.parse_config`).
    limits : Limits
    clock : callable, optional
        Monotonic seconds, for the idle timeout (tests pass a fake one).
    """

    def __init__(
        self,
        config: PlaygroundConfig,
        limits: Limits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.id = secrets.token_urlsafe(9)
        self.limits = limits or Limits()
        self.clock = clock
        self.last_seen = clock()
        self.lock = threading.Lock()
        self.playing = False
        self.stream_token = 0  # a newer stream ends an older one
        self.work_token = 0  # training runs while it is unchanged (see begin_work)
        self.closed = False
        self.config = config
        #: Estimated seconds per epoch (:func:`initlab.web.config.epoch_seconds`).
        self.epoch_estimate = epoch_seconds(config, self.limits)
        self.data = _datasets.load(config.dataset_name, **config.dataset_options())
        # the input plane the page draws: the data before any engineered features
        self.plane = (
            self.data
            if "features" not in self.data.options
            else _datasets.load(config.dataset_name, **config.dataset_options(features=False))
        )
        self.models = config.models()
        self._grid_setup()
        self._build()

    # -- setup --------------------------------------------------------------------------------
    def _inputs(self, points: np.ndarray) -> np.ndarray:
        """The network's inputs at points of the plane (their engineered features, if any)."""
        features = self.data.options.get("features")
        return points if not features else _datasets.expand_features(points, features)

    def _grid_setup(self) -> None:
        X = self.plane.X
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.1 * (hi - lo) + 1e-9
        self.extent = [float(lo[0] - pad[0]), float(hi[0] + pad[0])]
        self.extent += [float(lo[1] - pad[1]), float(hi[1] + pad[1])]
        self.grid_size = (
            self.limits.grid if self.config.mode == "single" else self.limits.compare_grid
        )
        g = self.grid_size
        xs = np.linspace(self.extent[0], self.extent[1], g)
        ys = np.linspace(self.extent[3], self.extent[2], g)  # row 0 is the top of the image
        gx, gy = np.meshgrid(xs, ys)
        self.grid = self._inputs(np.column_stack([gx.ravel(), gy.ravel()]))
        u = _UNIT_GRID
        ux, uy = np.meshgrid(
            np.linspace(self.extent[0], self.extent[1], u),
            np.linspace(self.extent[3], self.extent[2], u),
        )
        self.unit_grid = self._inputs(np.column_stack([ux.ravel(), uy.ravel()]))
        y = self.data.y_train
        self.value_scale = float(np.max(np.abs(y))) if self.data.regression and len(y) else 1.0
        rng = np.random.default_rng(0)
        n = self.data.n_train
        self.stat_idx = np.sort(rng.choice(n, size=min(n, _STAT_SAMPLES), replace=False))

    def specs(self) -> list[_sweep.RunSpec]:
        """Each network as an :class:`initlab.runs.RunSpec` (what a study would run)."""
        return self.config.specs()

    def _build(self) -> None:
        """Plan the runs with the sweep engine, group those that can share a population
        (same activation, optimizer, batch plan: ``RunSpec.group_key``) and draw their
        initial weights, exactly as ``initlab.sweep`` and ``initlab study`` do."""
        data = self.data
        specs = self.specs()
        grouped: dict[tuple, list[int]] = {}
        for i, spec in enumerate(specs):
            grouped.setdefault(spec.group_key(), []).append(i)
        self.groups: list[_Group] = []
        for idx in grouped.values():
            group_specs = [specs[i] for i in idx]
            first = group_specs[0]
            pop, params, optimizer = _sweep.build(group_specs, data)
            group = _Group(pop, [p.copy() for p in params], None, idx, optimizer, first)  # type: ignore[arg-type]
            group.trainer = self._trainer(group)
            self.groups.append(group)
        self._start()

    def _trainer(self, group: _Group) -> Trainer:
        d = self.data
        specs = [self.specs()[i] for i in group.models]
        # one thread: the server's parallelism is its sessions (web.app.TrainingPool)
        return _runs.trainer(
            specs, group.population, group.initial, group.optimizer,
            d.X_train, d.y_train, d.X_val, d.y_val, record=True, threads=1,
        )  # fmt: skip

    def _start(self) -> None:
        self.epoch = 0
        self._sent_epoch = -1  # last epoch whose metrics went out in a frame
        self._rows: list[np.ndarray] = []  # per epoch: (4, n_models) metrics
        self._updates: list[np.ndarray] = []  # per epoch (single mode): (P,) parameter updates
        self._stats: list[np.ndarray] = []  # per epoch (single mode): (L, 4, 6) quantiles, RMS
        self._trace: dict[str, list[np.ndarray]] | None = None  # the last epoch's, single mode
        self.divergence: dict[int, dict[str, Any]] = {}  # model -> first non-finite epoch, layer
        self._last_finite = [[p.copy() for p in g.trainer.params] for g in self.groups]
        self._nonfinite: set[int] = set()  # networks whose last finite parameters are kept
        self._record_metrics()

    @property
    def n_params(self) -> int:
        return sum(int(np.prod(s[1:])) for s in self.groups[0].population.param_shapes())

    @property
    def sparklines(self) -> bool:
        return self.config.mode == "single" and self.n_params <= self.limits.max_spark_params

    def _flat(self) -> np.ndarray:
        p = self.groups[0].trainer.params
        return np.concatenate([a.reshape(a.shape[0], -1) for a in p], axis=1)[0]

    def _record_metrics(self, replace: bool = False) -> None:
        """Record the current epoch: metrics, and in single mode the per-layer quantiles
        and RMS of weights, pre-activations, activations and gradients (every epoch, so
        the charts have no steps).  ``replace`` overwrites the current epoch's record
        (after a weight was edited)."""
        row = np.full((len(_METRICS), len(self.models)), np.nan)
        for g in self.groups:
            m = g.trainer.metrics()
            for k, key in enumerate(_METRICS):
                if key in m:
                    row[k, g.models] = m[key]
        if replace:
            self._rows[-1] = row
        else:
            self._rows.append(row)
        if self.config.mode == "single":
            grp = self.groups[0]
            params = grp.trainer.params
            self._trace = grp.population.trace(
                params, self.data.X_train[self.stat_idx], self.data.y_train[self.stat_idx]
            )
            with np.errstate(over="ignore"):  # beyond float32: inf, as the page shows it
                stats = _netview.layer_quantiles(self._trace, params).astype(np.float32)
            if replace:
                self._stats[-1] = stats
            else:
                self._stats.append(stats)

    # -- control ------------------------------------------------------------------------------
    def touch(self) -> None:
        self.last_seen = self.clock()

    @property
    def finished(self) -> bool:
        return self.epoch >= self.config.epochs

    @property
    def halted(self) -> bool:
        """A single network with a non-finite parameter or loss (a divergence entry that
        names its layer) stops training, until reset or reseed."""
        return self.config.mode == "single" and any(
            d.get("layer") is not None for d in self.divergence.values()
        )

    def begin_work(self) -> int:
        """A token for :meth:`advance`; taking one stops the training of older tokens
        (a step, a stream) at their next epoch."""
        self.work_token += 1
        return self.work_token

    def interrupt(self) -> None:
        """Pause: the running step or stream stops at its next epoch."""
        self.playing = False
        self.begin_work()

    def close(self) -> None:
        """The session is gone (deleted, expired, server shutting down)."""
        self.closed = True
        self.interrupt()

    def advance(self, n_epochs: int, seconds: float | None = None, token: int | None = None) -> int:
        """Train up to ``n_epochs`` more epochs (never past ``config.epochs``); how many ran.

        Every epoch can end the call: once ``seconds`` of training are spent, when
        ``token`` is no longer :attr:`work_token` (a pause, a delete, a newer
        request), and in single mode when the network diverged.  The lock is taken
        per epoch, so live changes (:meth:`retune`) and frames wait one epoch at most.
        """
        start = time.perf_counter()
        ran = 0
        for _ in range(max(0, int(n_epochs))):
            if self.closed or (token is not None and token != self.work_token):
                break
            with self.lock:
                if self.finished or self.halted:
                    break
                self._one_epoch()
            ran += 1
            self.touch()
            if seconds is not None and time.perf_counter() - start >= seconds:
                break
        return ran

    def _one_epoch(self) -> None:
        spark = self.sparklines
        before = self._flat() if spark else None
        for g in self.groups:
            g.trainer.step(1)
        self.epoch += 1
        self._record_metrics()
        self._check_divergence()
        if spark:
            with np.errstate(all="ignore"):
                self._updates.append((self._flat() - before).astype(np.float32))
            del self._updates[: -self.limits.max_step_epochs * 5]

    def _check_divergence(self) -> None:
        """Record the networks whose parameters or training loss became non-finite at
        this epoch, and keep a copy of the others' (finite) parameters."""
        loss = self._rows[-1][_METRICS.index("train_loss")]
        for group, finite in zip(self.groups, self._last_finite, strict=True):
            params = group.trainer.params
            with np.errstate(all="ignore"):
                good = np.isfinite(loss[group.models])
                for p in params:
                    good &= np.isfinite(p.reshape(p.shape[0], -1)).all(axis=1)
            for j in np.flatnonzero(~good):
                model = group.models[j]
                self._nonfinite.add(model)
                if model not in self.divergence:
                    layer = self._first_nonfinite_layer(group, j)
                    self.divergence[model] = {"model": model, "epoch": self.epoch, "layer": layer}
            good &= ~np.isin(group.models, list(self._nonfinite))
            for kept, p in zip(finite, params, strict=True):  # a diverged one keeps its last
                if good.all():
                    np.copyto(kept, p)
                else:
                    kept[good] = p[good]

    def _first_nonfinite_layer(self, group: _Group, j: int) -> int:
        """Where model ``j`` of ``group`` went non-finite: the first layer (1-based, in
        forward order) with a non-finite weight, bias or pre-activation, else the first
        with a non-finite gradient, else the output layer (only the loss overflowed).
        Pre-activations and gradients are those of the statistics' training sample."""
        X = self.data.X_train[self.stat_idx]
        y = self.data.y_train[self.stat_idx]
        params = group.trainer.params
        with np.errstate(all="ignore"):
            tr = group.population.trace(params, X, y)
            n_layers = len(params) // 2
            for layer in range(n_layers):
                W, b, z = params[2 * layer][j], params[2 * layer + 1][j], tr["z"][layer][j]
                if not (np.isfinite(W).all() and np.isfinite(b).all() and np.isfinite(z).all()):
                    return layer + 1
            for layer in range(n_layers):
                if not (
                    np.isfinite(tr["dW"][layer][j]).all() and np.isfinite(tr["db"][layer][j]).all()
                ):
                    return layer + 1
        return n_layers

    def last_finite_params(self) -> list[list[np.ndarray]]:
        """Each group's parameters at the last epoch where they were finite (copies):
        a diverged network's last picture."""
        with self.lock:
            return [[p.copy() for p in kept] for kept in self._last_finite]

    def retune(self, config: PlaygroundConfig) -> None:
        """Continue with the live settings of ``config`` (learning rate, epoch limit,
        optimizer hyperparameters, weight penalties; see
        :func:`initlab.web.config.parse_live`): weights, optimizer state and epoch stay."""
        with self.lock:
            self.config = config
            specs = config.specs()
            for g in self.groups:
                _runs.retune(g.trainer, [specs[i] for i in g.models])
            self.touch()

    def reset(self) -> None:
        """Back to epoch 0 with the same initial weights (fresh optimizer state)."""
        with self.lock:
            for g in self.groups:
                g.trainer = self._trainer(g)
            self._start()
            self.touch()

    def reseed(self, seed: int) -> None:
        """New initial weights from ``seed`` (the data stays), back to epoch 0."""
        with self.lock:
            self.config = with_seed(self.config, seed)
            self.models = self.config.models()
            self._build()
            self.touch()

    def set_weight(self, layer: int, target: int, value: float, source: int | None = None) -> None:
        """Set one weight of the network (single mode) and keep training from there.

        ``layer`` is 1-based (1 = the first hidden layer); ``source`` the unit of the
        layer below (an input for layer 1), ``target`` the unit of ``layer``;
        ``source=None`` sets ``target``'s bias.  The optimizer state is kept; the
        current epoch's metrics and statistics are recomputed.
        """
        if self.config.mode != "single":
            raise ConfigError("mode", "weights can be edited in single mode only")
        sizes = self.groups[0].population.layer_sizes
        n_layers = len(sizes) - 1
        if isinstance(layer, bool) or not isinstance(layer, int) or not 1 <= layer <= n_layers:
            raise ConfigError("layer", f"layer must be an integer in 1..{n_layers}, got {layer!r}")
        checks = [("to", target, sizes[layer])]
        if source is not None:
            checks.append(("from", source, sizes[layer - 1]))
        for name, v, n in checks:
            if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < n:
                raise ConfigError(name, f"{name} must be an integer in 0..{n - 1}, got {v!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise ConfigError("value", f"value must be a finite number, got {value!r}")
        if abs(value) > _MAX_WEIGHT:
            raise ConfigError("value", f"value must be in [-{_MAX_WEIGHT:g}, {_MAX_WEIGHT:g}]")
        with self.lock:
            trainer = self.groups[0].trainer
            if source is None:
                trainer.params[2 * layer - 1][0, target] = value
            else:
                trainer.params[2 * (layer - 1)][0, source, target] = value
            trainer.params_changed()
            self.divergence.pop(0, None)  # judged again after the next epoch
            self._nonfinite.discard(0)
            self._record_metrics(replace=True)
            self.touch()

    def initial_params(self) -> list[list[np.ndarray]]:
        """Each group's initial parameters (copies)."""
        with self.lock:
            return [[p.copy() for p in g.initial] for g in self.groups]

    def current_params(self) -> list[list[np.ndarray]]:
        with self.lock:
            return [[p.copy() for p in g.trainer.params] for g in self.groups]

    # -- description --------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What the page needs once: the points, the grid, the models and the limits."""
        d, plane = self.data, self.plane
        ys = (lambda y: y.round(4).tolist()) if d.regression else (lambda y: y.tolist())
        return {
            "id": self.id,
            "config": self.config.to_json(),
            "mode": self.config.mode,
            "task": d.task,
            "n_classes": d.n_classes,
            "classes": [str(c) for c in d.classes],
            "value_scale": self.value_scale,
            "features": list(d.feature_names),
            "extent": self.extent,
            "grid": self.grid_size,
            "unit_grid": _UNIT_GRID,
            "diagram_units": _DIAGRAM_UNITS,
            "stat_kinds": list(_netview.KINDS),
            "quantiles": list(_netview.QUANTILES),
            "train": {"x": plane.X_train.round(4).tolist(), "y": ys(plane.y_train)},
            "val": {"x": plane.X_val.round(4).tolist(), "y": ys(plane.y_val)},
            "layer_sizes": list(self.groups[0].population.layer_sizes),
            "n_params": self.n_params,
            "param_names": self._param_names() if self.sparklines else [],
            "models": [
                {k: v for k, v in m.items() if k in ("row", "col", "label")} for m in self.models
            ],
            "rows": None
            if self.config.rows is None
            else {"axis": self.config.rows.name, "values": list(self.config.rows.values)},
            "cols": None
            if self.config.cols is None
            else {"axis": self.config.cols.name, "values": list(self.config.cols.values)},
            "max_epochs": self.config.epochs,
        }

    def _param_names(self) -> list[str]:
        sizes = self.groups[0].population.layer_sizes
        names = []
        for layer, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            names += [f"W{layer}[{i},{o}]" for i in range(n_in) for o in range(n_out)]
            names += [f"b{layer}[{o}]" for o in range(n_out)]
        return names

    def frame(self, full: bool = True) -> dict[str, Any]:
        """The current state as JSON: the metrics of every epoch since the last frame,
        the decision boundary (and in single mode, layer statistics and updates).

        ``full=False`` repeats no history (for an idempotent "current state" request).
        """
        with self.lock:
            start = min(self._sent_epoch + 1, self.epoch) if full else self.epoch
            rows = np.stack(self._rows[start : self.epoch + 1], axis=0)  # (k, 4, M)
            history = {
                key: [[_finite(v) for v in rows[e, k]] for e in range(rows.shape[0])]
                for k, key in enumerate(_METRICS)
            }
            out: dict[str, Any] = {
                "epoch": self.epoch,
                "from_epoch": start,
                "history": history,
                "metrics": {
                    key: [_finite(v) for v in rows[-1, k]] for k, key in enumerate(_METRICS)
                },
                "finished": self.finished,
                "boundary": self._boundary(),
                "diverged": [bool(d) for d in self._diverged()],
                "divergence": sorted(self.divergence.values(), key=lambda d: d["model"]),
            }
            if self.config.mode == "single":
                out["layers"] = self._layer_stats()
                stats = self._stats[start : self.epoch + 1]
                out["stats"] = _b64(np.stack(stats)) if stats else ""
                out["n_stats"] = len(stats)
                grp = self.groups[0]
                tr = self._trace or {}
                out["diagram"] = _netview.diagram(
                    grp.population, grp.trainer.params, self.unit_grid,
                    tr.get("dW"), tr.get("delta"), _DIAGRAM_UNITS,
                )  # fmt: skip
                if self.sparklines:
                    ups = self._updates if full else []
                    out["updates"] = _b64(np.stack(ups)) if ups else ""
                    out["n_updates"] = len(ups)
            if full:
                self._sent_epoch = self.epoch
                self._updates = []
            return out

    def _diverged(self) -> np.ndarray:
        out = np.zeros(len(self.models), bool)
        for g in self.groups:
            bad = np.zeros(g.population.n_models, bool)
            for p in g.trainer.params:
                bad |= ~np.isfinite(p.reshape(p.shape[0], -1)).all(axis=1)
            out[g.models] = bad
        return out

    def _boundary(self) -> str:
        """Class probabilities on the grid, ``(n_models, g, g, K)`` as uint8, base64; for
        regression the predicted value, ``(n_models, g, g, 1)``, as
        ``128 + 127 * clip(value / value_scale, -1, 1)`` (NaN: 128)."""
        g, K = self.grid_size, self.data.n_classes
        if self.data.regression:
            out = np.full((len(self.models), g * g, 1), 128, dtype=np.uint8)
            for grp in self.groups:
                v = grp.population.predict(grp.trainer.params, self.grid) / self.value_scale
                with np.errstate(invalid="ignore"):
                    b = np.rint(128 + 127 * np.clip(np.nan_to_num(v, nan=0.0), -1, 1))
                out[grp.models] = b.astype(np.uint8)
            return _b64(out)
        out = np.zeros((len(self.models), g * g, K), dtype=np.uint8)
        for grp in self.groups:
            proba = grp.population.predict_proba(grp.trainer.params, self.grid)  # (m, g*g, K)
            proba = np.nan_to_num(proba, nan=1.0 / K)
            out[grp.models] = np.clip(np.rint(proba * 255), 0, 255).astype(np.uint8)
        return _b64(out)

    def _layer_stats(self) -> list[dict[str, Any]]:
        """Per layer: activation and pre-activation spread, gradient size, inactive units."""
        grp = self.groups[0]
        tr = self._trace  # recorded with this epoch's metrics
        act = grp.population.activation
        stats = []
        n_layers = grp.population.n_layers
        for layer in range(n_layers):
            z, a = tr["z"][layer][0], tr["a"][layer][0]  # (N, F)
            dW, delta = tr["dW"][layer][0], tr["delta"][layer][0]
            W = grp.trainer.params[2 * layer][0]
            hidden = layer < n_layers - 1
            activity = unit_activity(act, z) if hidden else np.zeros(z.shape[1])
            with np.errstate(all="ignore"):
                stats.append(
                    {
                        "name": f"hidden {layer + 1}" if hidden else "output",
                        "units": int(z.shape[1]),
                        "a_mean": _finite(a.mean()),
                        "a_std": _finite(a.std()),
                        "z_std": _finite(z.std()),
                        "w_rms": _finite(np.sqrt(np.mean(W**2))),
                        "grad_rms": _finite(np.sqrt(np.mean(dW**2))),
                        "delta_rms": _finite(np.sqrt(np.mean(delta**2))),
                        "inactive": [round(float(v), 3) for v in activity],
                        "flagged": int(np.sum(activity >= _FLAG_FRACTION)) if hidden else 0,
                        "kind": ("dead" if act.family in ("rectifier", "linear") else "saturated")
                        if hidden
                        else "",
                    }
                )
        return stats


class SessionLimitError(RuntimeError):
    """Too many sessions are alive."""


class SessionStore:
    """The live sessions: at most ``limits.max_sessions``, idle ones dropped.

    A session is idle when nothing touched it (a request, a heartbeat, a streamed
    frame, a trained epoch) for ``limits.idle_timeout`` seconds; the web layer also
    drops a session whose stream the client abandoned.

    Parameters
    ----------
    limits : Limits
    clock : callable
        Monotonic seconds (tests pass a fake one).
    """

    def __init__(self, limits: Limits | None = None, clock: Callable[[], float] = time.monotonic):
        self.limits = limits or Limits()
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self.closing = False  # set when the server stops

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, sid: str) -> bool:
        return sid in self._sessions

    def cleanup(self) -> list[str]:
        """Drop sessions idle longer than ``limits.idle_timeout``; their ids."""
        now = self.clock()
        with self._lock:
            old = [
                sid
                for sid, s in self._sessions.items()
                if s is not None and now - s.last_seen > self.limits.idle_timeout
            ]
            for sid in old:
                self._sessions.pop(sid).close()
        return old

    def create(self, config: PlaygroundConfig, replace: str | None = None) -> Session:
        """A new session (replacing ``replace`` if given); SessionLimitError when full."""
        self.cleanup()
        if replace is not None:
            self.delete(replace)
        if self.closing:
            raise SessionLimitError("the server is shutting down")
        with self._lock:
            if len(self._sessions) >= self.limits.max_sessions:
                raise SessionLimitError(
                    f"too many playground sessions ({len(self._sessions)} running, the server "
                    f"allows {self.limits.max_sessions}); close another tab or wait "
                    f"{self.limits.idle_timeout:g} s for idle ones to expire"
                )
            # reserve the slot while the (slow-ish) data and weights are made
            placeholder = f"__pending_{secrets.token_hex(4)}"
            self._sessions[placeholder] = None  # type: ignore[assignment]
        try:
            session = Session(config, self.limits, self.clock)
        except ValueError as exc:  # e.g. too few points for a stratified split
            raise ConfigError("dataset", str(exc)) from None
        finally:
            with self._lock:
                self._sessions.pop(placeholder, None)
        with self._lock:
            self._sessions[session.id] = session
        return session

    def get(self, sid: str) -> Session | None:
        s = self._sessions.get(sid)
        if s is not None:
            s.touch()
        return s

    def delete(self, sid: str) -> bool:
        with self._lock:
            s = self._sessions.pop(sid, None)
        if s is not None:
            s.close()
        return s is not None

    def close_all(self) -> None:
        """Close every session (the server is stopping): streams end, training stops at
        the next epoch, and no new session is made."""
        self.closing = True
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for s in sessions:
            if s is not None:
                s.close()

    def sessions(self) -> list[Session]:
        return [s for s in list(self._sessions.values()) if s is not None]
