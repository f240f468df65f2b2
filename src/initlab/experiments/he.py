"""He, Zhang, Ren & Sun (2015): 22- and 30-layer ReLU networks, He vs Xavier initialization."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import datasets, engine, optim
from .. import diagnostics as diag
from ._common import Claim, Experiment, ExperimentResult, _first_epoch_below, _fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    moments = res.data[res.data["part"] == "moment"]
    deep = moments[moments["depth"] == moments["depth"].max()]
    curves = res.data[res.data["part"] == "train"]
    return plots.panels(
        [
            plots.Panel(
                "forward second moment E[z^2]",
                [plots.Lines(deep, "layer", "z_sq", hue="init", units="model")],
                xlabel="layer",
                logy=True,
            ),
            plots.Panel(
                "training loss",
                [
                    plots.Lines(
                        curves,
                        "epoch",
                        "train_loss",
                        hue="depth",
                        style="init",
                        label="{depth} layers, {init}",
                    )
                ],
                xlabel="epoch",
            ),
        ],
        title="He et al. (2015): ReLU, He vs Xavier init",
    )


def measure(quick: bool, seed: int):
    d = datasets.load("digits", random_state=seed)
    X, y = d.X_train, d.y_train
    width, epochs, depths, lr = (32, 12, (30,), 0.01) if quick else (64, 40, (22, 30), 0.005)
    inits = {"he": "he_normal", "xavier": "xavier_normal"}
    frames, summary = [], {}
    for depth in depths:
        sizes = (d.n_features, *(width,) * depth, d.n_classes)
        # the forward second moment in k networks per init; eq. 10 is about its expectation
        # layer by layer, so the per-layer ratios are averaged (a single finite-width
        # network's typical value drifts down by about exp(-5 / (2 n)) per layer)
        k = 4 if quick else 8
        many = engine.Population(sizes, "relu", n_models=2 * k)
        seeds = [seed + i for i in range(k)] * 2
        stats = diag.layer_stats(
            many,
            engine.init_params(many, seeds, ["he_normal"] * k + ["xavier_normal"] * k),
            X[:300],
            y[:300],
        )
        stats = stats[stats["kind"] == "hidden"].copy()
        stats["z_sq"] = stats["z_var"] + stats["z_mean"] ** 2
        stats["init"] = np.where(stats["model"] < k, "he", "xavier")
        stats = stats[["model", "init", "layer", "z_sq"]].assign(part="moment", depth=depth)
        stats["step"] = stats.groupby("model")["z_sq"].transform(lambda v: v / v.shift())
        frames.append(stats)
        pop = engine.Population(sizes, "relu", n_models=2)
        params = engine.init_params(pop, seed, list(inits.values()))
        res = engine.train(
            pop,
            params,
            optim.build("momentum", lr),
            X,
            y,
            epochs,
            batch_size=128,
            shuffle=True,
            shuffle_seed=seed,
        )
        loss = res.history["train_loss"]
        for m, label in enumerate(inits):
            frames.append(
                pd.DataFrame(
                    {
                        "part": "train",
                        "depth": depth,
                        "init": label,
                        "epoch": np.arange(epochs + 1),
                        "train_loss": loss[:, m],
                        "train_acc": res.history["train_acc"][:, m],
                    }
                )
            )
            g = stats[stats["init"] == label]
            z = g.groupby("layer")["z_sq"].median().to_numpy()
            summary[depth, label] = {
                "ratio": float(g["step"].mean()),
                "total": float(z[-1] / z[0]),
                "start": _first_epoch_below(loss[:, m], 0.95),
                "final": float(loss[-1, m] / loss[0, m]),
            }
    data = pd.concat(frames, ignore_index=True)
    deep = max(depths)
    he, xa = summary[deep, "he"], summary[deep, "xavier"]
    claims = [
        Claim(
            "forward second moment per layer: kept by He init (eq. 10)",
            "x 1 per layer",
            f"x {he['ratio']:.3f} per layer (median network, {deep} layers: "
            f"x {_fmt(he['total'])} overall)",
            0.85 < he["ratio"] < 1.15,
        ),
        Claim(
            "... halved by Xavier init (n Var[w] = 1) in a ReLU net",
            f"x 1/2 per layer ({_fmt(2.0 ** -(deep - 1))} over {deep} layers)",
            f"x {xa['ratio']:.3f} per layer (median: x {_fmt(xa['total'])} overall)",
            0.4 < xa["ratio"] < 0.6,
        ),
        Claim(
            f"{deep} layers: He init converges, Xavier stalls (Fig. 3)",
            "Xavier: no learning; He: converges",
            f"loss after {epochs} epochs / initial: He {he['final']:.2f}, Xavier {xa['final']:.3f}",
            he["final"] < 0.75 and xa["final"] > 0.98,
        ),
    ]
    if 22 in depths:
        he22, xa22 = summary[22, "he"], summary[22, "xavier"]
        claims.append(
            Claim(
                "22 layers: both converge, but He init starts reducing the error earlier (Fig. 2)",
                "both converge; He earlier",
                f"loss first < 95% of initial at epoch {he22['start']} (He) vs "
                f"{xa22['start']} (Xavier); final/initial {he22['final']:.2f} vs "
                f"{xa22['final']:.2f}",
                0 <= he22["start"] < xa22["start"] and xa22["final"] < 0.9,
            )
        )
    return data, claims, {}


EXPERIMENT = Experiment(
    "he",
    "Deep ReLU nets: He init trains at 30 layers where Xavier stalls",
    "K. He, X. Zhang, S. Ren and J. Sun (2015), Delving deep into rectifiers: surpassing "
    "human-level performance on ImageNet classification, ICCV",
    measure,
    figure,
)
