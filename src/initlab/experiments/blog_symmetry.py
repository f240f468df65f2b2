"""The blog: zero initialization keeps hidden units identical or frozen."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .. import datasets
from .. import diagnostics as diag
from ..network import blog_network
from ._common import Claim, Experiment, ExperimentResult

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    hidden = res.data[res.data["layer"] == 1].copy()
    hidden["init"] = ["zeros" if "zeros" in c else "random-scaled" for c in hidden["config"]]
    # equal copy counts would hide each other: each configuration a little higher
    offset = {c: 0.02 * i for i, c in enumerate(dict.fromkeys(hidden["config"]))}
    hidden["copies"] = hidden["copies"] + hidden["config"].map(offset)
    return plots.panels(
        [
            plots.Panel(
                "max |W1 - W1(0)| (hidden weights moved)",
                [
                    plots.Lines(
                        hidden, "epoch", "W_moved", hue="config", style="init", label="{config}"
                    )
                ],
                xlabel="epoch",
                legend={"fontsize": 6},
            ),
            plots.Panel(
                "hidden units that copy another",
                [plots.Lines(hidden, "epoch", "copies", hue="config", style="init", label="")],
                xlabel="epoch",
            ),
        ],
        title="The blog's network [2, 2, 4]: zero initialization",
    )


def measure(quick: bool, seed: int):
    d = datasets.load("blog")
    configs = [
        ("sigmoid", "zeros"),
        ("tanh", "zeros"),
        ("relu", "zeros"),
        ("leaky_relu", "zeros"),
        ("tanh", "xavier"),
        ("leaky_relu", "he"),
    ]
    if quick:
        configs = [("sigmoid", "zeros"), ("tanh", "zeros"), ("leaky_relu", "he")]
    frames, acc = [], {}
    for act, init in configs:
        net = blog_network(act, init)
        df = diag.record(net, d.X_train, d.y_train, every=1, X_val=d.X_val, y_val=d.y_val)
        df["config"] = f"{act} + {init}"
        frames.append(df)
        acc[act, init] = float(df["val_acc"].iloc[-1])
    data = pd.concat(frames, ignore_index=True)
    hidden = data[data["layer"] == 1]

    def series(act, init, col):
        return hidden[hidden["config"] == f"{act} + {init}"][col].to_numpy()

    frozen = [(a, i) for a, i in configs if i == "zeros" and a != "sigmoid"]
    sig_moved = series("sigmoid", "zeros", "W_moved")[-1]
    claims = [
        Claim(
            "sigmoid + zeros: the weights move but stay equal; symmetry never breaks",
            "weights move but remain the same; 54% accuracy",
            f"W1 moved {sig_moved:.2f}; copies = "
            f"{int(series('sigmoid', 'zeros', 'copies').min())} of 2 at every epoch; "
            f"val acc {acc['sigmoid', 'zeros']:.2f}",
            sig_moved > 0.1
            and (series("sigmoid", "zeros", "copies") == 1).all()
            and abs(acc["sigmoid", "zeros"] - 0.54) < 0.015,
        ),
        Claim(
            "tanh / ReLU + zeros: the hidden weights never get an update "
            "(f(0) = 0 kills the gradient)",
            "parameters not updated",
            "max |W1 - W1(0)| over 50 epochs: "
            + ", ".join(f"{a} {series(a, i, 'W_moved').max():g}" for a, i in frozen),
            all((series(a, i, "W_moved") == 0).all() for a, i in frozen),
        ),
        Claim(
            "random-scaled inits break the symmetry",
            "weights take different values",
            ", ".join(
                f"{a} + {i}: copies {int(series(a, i, 'copies').max())}"
                for a, i in configs
                if i != "zeros"
            ),
            all((series(a, i, "copies") == 0).all() for a, i in configs if i != "zeros"),
        ),
    ]
    return data, claims, {}


EXPERIMENT = Experiment(
    "blog_symmetry",
    "The blog: zero init keeps hidden units identical and freezes tanh/ReLU weights",
    "The blog post in /work/shared/seed (FFNetwork on make_blobs, 4 activations x 4 inits)",
    measure,
    figure,
)
