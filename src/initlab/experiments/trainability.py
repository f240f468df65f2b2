"""Schoenholz et al. (2017), Poole et al. (2016): a network trains to a depth of about 6 xi_c.

A grid of networks over ``(sigma_w^2, depth)`` is trained for one fixed budget on the
digits images, and the accuracy reached is compared with the mean-field depth scale:

* **tanh** (``sigma_b^2 = 0.05``, Schoenholz et al.'s Figs. 5-6): away from the edge of
  chaos (``sigma_w^2 = 1.761``) information about the input survives only ``xi_c``
  layers (:func:`initlab.meanfield.correlation_depth_scale`), and networks deeper than a
  few ``xi_c`` do not train; the trainable region widens toward the critical line.
* **ReLU** (no bias): the correlation map does not depend on ``sigma_w^2``; what limits
  the depth is the gradient, which changes by ``chi_1 = sigma_w^2 / 2`` per layer, so the
  depth scale is ``|xi_grad| = 1 / |log(sigma_w^2 / 2)|``, infinite at He's
  ``sigma_w^2 = 2``.

Each depth is one population of the engine (every ``sigma_w^2`` and seed along the model
axis), and the populations are independent tasks for :func:`._common.map_tasks`, so the
full size runs on worker processes or a Dask cluster with the same numbers.

The boundary of the trainable region at each ``sigma_w^2`` is the depth where the mean
validation accuracy over seeds falls through :data:`THRESHOLD`, interpolated in
``log(depth)``; a boundary beyond the deepest network is censored.  Near the critical
point the boundary is set by the training budget and the finite width rather than by
``xi`` (Schoenholz et al.'s trainable region also grows with training time), so ``c`` is
fitted where the boundary is clearly shallower than the deepest depth that trains.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import Claim, Experiment, ExperimentResult, map_tasks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: Validation accuracy that counts as trained (chance is 0.1 on the ten digits).
THRESHOLD = 0.5

#: The two parts: activation, bias variance, and the sigma_w^2 grids (quick, full).
PARTS = {
    "tanh": {
        "sigma_b2": 0.05,
        "quick": (1.0, 1.25, 1.5, 1.75, 2.5, 3.0, 4.0),
        "full": tuple(np.round(np.linspace(1.0, 4.0, 13), 2)),
    },
    "relu": {
        "sigma_b2": 0.0,
        "quick": (1.0, 1.5, 2.0, 2.5, 3.0),
        "full": (1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 2.75, 3.0),
    },
}

#: Network and budget: (width, depths, seeds, epochs, training rows) for quick and full.
SIZES = {
    "quick": (32, (4, 6, 9, 13, 19, 28, 42), (0,), 8, None),
    "full": (64, (8, 12, 16, 24, 32, 48, 64, 96, 128), (0, 1), 10, None),
}

#: The training protocol: SGD with momentum 0.9 (Schoenholz et al. trained with SGD).
OPTIMIZER, LEARNING_RATE, BATCH_SIZE = "momentum", 0.01, 128

# Peak memory of one population: the engine keeps each layer's pre-activation and
# activation, a delta and a temporary (4 arrays of width x rows) per model and layer, and
# the metrics pass runs on every training row at once.  A (part, depth) grid is split into
# populations below this many bytes (26 tanh networks of 128 x 64 on 1437 rows would
# need about 10 GB); the numbers do not depend on the split.
_MAX_MEMORY = 1 << 30


def _split(sigma_w2: tuple, seeds: tuple, width: int, depth: int, rows: int) -> list[tuple]:
    """``sigma_w2`` in groups whose populations (all seeds) fit in :data:`_MAX_MEMORY`."""
    per_model = 8 * 4 * width * depth * rows
    size = max(1, _MAX_MEMORY // (per_model * len(seeds)))
    return [sigma_w2[i : i + size] for i in range(0, len(sigma_w2), size)]


# A boundary counts in the fit of c when it is below this fraction of the deepest
# boundary measured (past it the budget and the width, not xi, limit the depth).
_CAPPED = 0.8


def train_depth(task: dict) -> list[dict]:
    """Train one population (one activation and depth, every sigma_w^2 and seed).

    A module-level function of a plain dict, so worker processes and Dask can run it.
    """
    from .. import datasets, engine, initializers, optim

    d = datasets.load("digits", random_state=task["data_seed"])
    n = task["n_train"] or len(d.X_train)
    X, y = d.X_train[:n], d.y_train[:n]
    grid = [(sw, seed) for sw in task["sigma_w2"] for seed in task["seeds"]]
    inits = [initializers.variance_scaling(sw, "fan_in", "normal") for sw, _ in grid]
    sb = task["sigma_b2"]
    bias = initializers.get_bias("normal", std=math.sqrt(sb)) if sb > 0 else "zeros"
    sizes = (d.n_features, *(task["width"],) * task["depth"], d.n_classes)
    pop = engine.Population(sizes, task["activation"], n_models=len(grid))
    params = engine.init_params(pop, [seed for _, seed in grid], inits, bias)
    trainer = engine.Trainer(
        pop,
        params,
        optim.build(OPTIMIZER, LEARNING_RATE),
        X,
        y,
        d.X_val,
        d.y_val,
        batch_size=BATCH_SIZE,
        shuffle=True,
        shuffle_seed=task["data_seed"],
        record=False,
    )
    with engine.one_blas_thread():
        trainer.step(task["epochs"])
    result = trainer.result()
    return [
        {
            "activation": task["activation"],
            "sigma_w2": float(sw),
            "sigma_b2": sb,
            "depth": task["depth"],
            "width": task["width"],
            "seed": int(seed),
            "train_acc": float(result.final["train_acc"][m]),
            "val_acc": float(result.final["val_acc"][m]),
            "train_loss": float(result.final["train_loss"][m]),
            "diverged": bool(result.diverged_epoch[m] >= 0),
        }
        for m, (sw, seed) in enumerate(grid)
    ]


def depth_scale(activation: str, sigma_w2: float, sigma_b2: float) -> float:
    """The theory's depth scale: ``xi_c`` for tanh, ``|xi_grad|`` for ReLU."""
    from .. import meanfield

    if activation == "relu":
        return abs(meanfield.gradient_depth_scale("relu", sigma_w2, sigma_b2))
    return meanfield.correlation_depth_scale(activation, sigma_w2, sigma_b2)


def boundaries(acc: pd.DataFrame, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per activation and sigma_w^2: the depth where the mean accuracy falls through ``threshold``.

    Interpolated in ``log(depth)`` between the last depth above and the first below;
    ``censored`` when every depth trains (the boundary is then the deepest one) or none
    does (the shallowest).
    """
    rows = []
    for (name, sw), g in acc.groupby(["activation", "sigma_w2"]):
        g = g.sort_values("depth")
        depths, a = g["depth"].to_numpy(float), g["val_acc"].to_numpy(float)
        below = np.flatnonzero(a < threshold)
        if below.size == 0:
            b, censored = depths[-1], True
        elif below[0] == 0:
            b, censored = depths[0], True
        else:
            i = below[0]
            t = (a[i - 1] - threshold) / (a[i - 1] - a[i])
            b, censored = (
                math.exp(math.log(depths[i - 1]) + t * math.log(depths[i] / depths[i - 1])),
                False,
            )
        rows.append({"activation": name, "sigma_w2": sw, "boundary": b, "censored": censored})
    return pd.DataFrame(rows)


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    acc = res.data.groupby(["activation", "sigma_w2", "depth"], as_index=False)["val_acc"].mean()
    return plots.trainability(
        acc,
        res.extra["boundary"],
        names=list(PARTS),
        threshold=THRESHOLD,
        title="Schoenholz et al. (2017): networks train to a depth of about 6 xi",
    )


def measure(
    quick: bool, seed: int, executor: str = "local", workers=None, scheduler=None, progress=None
):

    size = "quick" if quick else "full"
    width, depths, seeds, epochs, n_train = SIZES[size]
    from .. import datasets

    rows_used = n_train or datasets.load("digits", random_state=seed).n_train
    run_seeds = tuple(seed + s for s in seeds)
    tasks = [
        {
            "activation": name,
            "sigma_b2": part["sigma_b2"],
            "sigma_w2": group,
            "depth": depth,
            "width": width,
            "seeds": run_seeds,
            "epochs": epochs,
            "n_train": n_train,
            "data_seed": seed,
        }
        for depth in sorted(depths, reverse=True)  # the longest first
        for name, part in PARTS.items()
        for group in _split(part[size], run_seeds, width, depth, rows_used)
    ]
    rows = [
        r
        for chunk in map_tasks(train_depth, tasks, executor, workers, scheduler, progress)
        for r in chunk
    ]
    data = pd.DataFrame(rows).sort_values(["activation", "sigma_w2", "depth", "seed"])
    data, claims, extra = analyze(data.reset_index(drop=True))
    return data, claims, {**extra, "populations": len(tasks)}


def analyze(data: pd.DataFrame):
    """The claims from the trainings' table (one row per network): ``(data, claims, extra)``.

    ``data`` gains the theory's depth scale ``xi``; ``extra`` holds the boundaries and the
    fits.  Separate from the training, so a stored run (``--data`` CSV) can be re-read.
    """
    from .. import meanfield

    data = data.copy()
    acc = data.groupby(["activation", "sigma_w2", "depth"], as_index=False)["val_acc"].mean()
    bound = boundaries(acc)
    bound["xi"] = [
        depth_scale(a, sw, PARTS[a]["sigma_b2"])
        for a, sw in zip(bound["activation"], bound["sigma_w2"], strict=True)
    ]
    critical = {
        "tanh": meanfield.critical_sigma_w2("tanh", PARTS["tanh"]["sigma_b2"]),
        "relu": 2.0,
    }
    bound["critical"] = bound["activation"].map(critical)
    fits = {}
    for name, b in bound.groupby("activation"):
        deepest = b["boundary"].max()
        used = b[~b["censored"] & (b["boundary"] < _CAPPED * deepest) & np.isfinite(b["xi"])]
        c = float(np.exp(np.mean(np.log(used["boundary"] / used["xi"])))) if len(used) else math.nan
        ratio = used["boundary"] / (c * used["xi"])
        fits[name] = {
            "c": c,
            "n": len(used),
            "worst": float(np.abs(np.log(ratio)).max()) if len(used) else math.inf,
            "used": used,
        }
    bound["c"] = bound["activation"].map({k: v["c"] for k, v in fits.items()})
    data["xi"] = [
        depth_scale(a, sw, PARTS[a]["sigma_b2"])
        for a, sw in zip(data["activation"], data["sigma_w2"], strict=True)
    ]

    def widest(name):
        """The sigma_w^2 that trains deepest (ties: the best accuracy at the deepest depth)."""
        b = bound[bound["activation"] == name]
        top = b[b["boundary"] >= b["boundary"].max() * (1 - 1e-9)]
        deep = acc[(acc["activation"] == name) & (acc["depth"] == acc["depth"].max())]
        score = deep.set_index("sigma_w2")["val_acc"].reindex(top["sigma_w2"])
        return float(score.idxmax()), float(b["boundary"].max()), b

    claims = []
    t, r = fits["tanh"], fits["relu"]
    tol = math.log(2.0)
    claims.append(
        Claim(
            "tanh: the trainable depth follows c xi_c, c of order 6 (Figs. 5-6)",
            "depth ~ 6 xi_c",
            f"fitted c = {t['c']:.2f} on {t['n']} sigma_w^2 values; every boundary within "
            f"x {math.exp(t['worst']):.2f} of c xi_c (allowed: c in [2, 12], x 2)",
            t["n"] >= 3 and 2.0 <= t["c"] <= 12.0 and t["worst"] <= tol,
        )
    )

    def near(sw, target, grid):
        """Whether grid point ``sw`` is the one nearest ``target`` or a neighbour of it."""
        grid = np.sort(grid)
        return abs(int(np.argmin(np.abs(grid - target))) - int(np.searchsorted(grid, sw))) <= 1

    sw_t, deep_t, b_t = widest("tanh")
    grid_t = np.sort(b_t["sigma_w2"].to_numpy())
    claims.append(
        Claim(
            "tanh: the widest trainable depth is at the critical sigma_w^2",
            f"sigma_w^2 = {critical['tanh']:.3f} (sigma_b^2 = 0.05)",
            f"deepest at sigma_w^2 = {sw_t:g} (boundary {deep_t:.0f} layers; grid "
            f"{', '.join(f'{v:g}' for v in grid_t)}); at the ends "
            f"{b_t['boundary'].iloc[0]:.0f} (sigma_w^2 = {grid_t[0]:g}) and "
            f"{b_t['boundary'].iloc[-1]:.0f} (sigma_w^2 = {grid_t[-1]:g})",
            near(sw_t, critical["tanh"], grid_t)
            and b_t["boundary"].iloc[0] < deep_t
            and b_t["boundary"].iloc[-1] < deep_t,
        )
    )
    sw_r, deep_r, b_r = widest("relu")
    grid_r = np.sort(b_r["sigma_w2"].to_numpy())
    claims.append(
        Claim(
            "ReLU: the widest trainable depth is at He's sigma_w^2 = 2, shrinking on both sides",
            "chi_1 = sigma_w^2 / 2 = 1 at 2",
            f"deepest at sigma_w^2 = {sw_r:g} (boundary {deep_r:.0f} layers); "
            f"{b_r['boundary'].iloc[0]:.0f} at {grid_r[0]:g}, "
            f"{b_r['boundary'].iloc[-1]:.0f} at {grid_r[-1]:g}",
            near(sw_r, 2.0, grid_r)
            and b_r["boundary"].iloc[0] < deep_r
            and b_r["boundary"].iloc[-1] < deep_r,
        )
    )
    claims.append(
        Claim(
            "ReLU: the trainable depth follows c |xi_grad| = c / |log(sigma_w^2 / 2)|",
            "depth ~ |xi_grad|",
            f"fitted c = {r['c']:.2f} on {r['n']} sigma_w^2 values; every boundary within "
            f"x {math.exp(r['worst']):.2f} of c |xi_grad| (allowed: x 2)",
            r["n"] >= 2 and r["worst"] <= tol,
        )
    )
    summary = {
        k: {"c": v["c"], "n": v["n"], "worst": math.exp(v["worst"])} for k, v in fits.items()
    }
    return data, claims, {"boundary": bound, "fits": summary}


EXPERIMENT = Experiment(
    "trainability",
    "Networks train to a depth of about 6 xi_c, widest at the edge of chaos (tanh, ReLU)",
    "S. Schoenholz, J. Gilmer, S. Ganguli and J. Sohl-Dickstein (2017), Deep information "
    "propagation, ICLR; B. Poole, S. Lahiri, M. Raghu, J. Sohl-Dickstein and S. Ganguli "
    "(2016), Exponential expressivity in deep neural networks through transient chaos, NeurIPS",
    measure,
    figure,
    parallel=True,
)
