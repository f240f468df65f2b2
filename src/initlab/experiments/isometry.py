"""Saxe et al. (2013), Pennington et al. (2017): Jacobian spectra and dynamical isometry."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import diagnostics as diag
from .. import initializers
from ._common import Claim, Experiment, ExperimentResult, _fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _spread(s: np.ndarray) -> float:
    """Normalized variance of the squared singular values, ``Var[s^2] / E[s^2]^2``."""
    lam = np.asarray(s, dtype=float) ** 2
    return float(lam.var() / lam.mean() ** 2)


# Pennington, Schoenholz & Ganguli (2017), Table 1 (at criticality, large width): the
# variance of the spectrum of J J^T, normalized by its squared mean, grows as depth L times
# (mu2 / mu1^2 - 1 - s1), with s1 = -1 for Gaussian and 0 for orthogonal weights.
_PENNINGTON = {
    ("linear", "gaussian"): lambda L: L,
    ("linear", "orthogonal"): lambda L: 0.0,
    ("relu", "gaussian"): lambda L: 2.0 * L,
    ("relu", "orthogonal"): lambda L: 1.0 * L,
}


def figure(res: ExperimentResult) -> Figure:
    from .. import plots

    spread = res.data.assign(spread=res.data["spread"] + 1e-3)
    spectra, depth = res.extra["spectra"], res.extra["depth"]

    def normalized(act):  # s / rms(s)
        return {
            w: spectra[act, w] / np.sqrt(np.mean(spectra[act, w] ** 2))
            for w in ("gaussian", "orthogonal")
        }

    return plots.panels(
        [
            plots.Panel(
                "Var[s^2] / E[s^2]^2 (+1e-3)",
                [
                    plots.Lines(
                        spread, "depth", "spread", hue="activation", style="weights", marker="o"
                    )
                ],
                xlabel="depth L",
                logx=True,
                logy=True,
                legend={"fontsize": 6},
            ),
            *(
                plots.Panel(
                    f"{act}, depth {depth}: s / rms(s)",
                    [plots.Hist(normalized(act))],
                    xlim=(0, 4),
                )
                for act in ("relu", "tanh")
            ),
        ],
        title="Jacobian singular values: Saxe et al. (2013), Pennington et al. (2017)",
    )


def measure(quick: bool, seed: int):
    width, depths, n_points = (64, (2, 8), 4) if quick else (256, (2, 8, 32), 4)
    gains = {"linear": 1.0, "tanh": 1.0, "relu": math.sqrt(2.0)}
    rows, spectra = [], {}
    X = diag.gaussian_inputs(n_points, width, seed)
    for act, gain in gains.items():
        for weights in ("gaussian", "orthogonal"):
            if weights == "gaussian":
                init = initializers.variance_scaling(gain**2, "fan_in", "normal")
            else:
                init = initializers.get("orthogonal", gain=gain)
            for depth in depths:
                s = diag.jacobian_singular_values((width,) * depth, act, init, X, random_state=seed)
                rows.append(
                    {
                        "activation": act,
                        "weights": weights,
                        "depth": depth,
                        "width": width,
                        "mean_s2": float(np.mean(s**2)),
                        "spread": _spread(s),
                        "max_abs_s_minus_1": float(np.abs(s - 1).max()),
                        "theory": _PENNINGTON.get((act, weights), lambda L: np.nan)(depth),
                    }
                )
                if depth == max(depths):
                    spectra[act, weights] = s.ravel()
    data = pd.DataFrame(rows)
    L = max(depths)

    def at(act, weights, col="spread", depth=L):
        sel = data[(data.activation == act) & (data.weights == weights) & (data.depth == depth)]
        return float(sel[col].iloc[0])

    tol = 0.4 if quick else 0.25
    claims = [
        Claim(
            "deep linear net, orthogonal weights: every singular value is exactly 1 (Saxe)",
            "s = 1",
            f"max |s - 1| = {_fmt(at('linear', 'orthogonal', 'max_abs_s_minus_1'))} at depth {L}",
            at("linear", "orthogonal", "max_abs_s_minus_1") < 1e-9,
        ),
    ]
    for act in ("linear", "relu"):
        g, o = at(act, "gaussian"), at(act, "orthogonal")
        tg, to = _PENNINGTON[act, "gaussian"](L), _PENNINGTON[act, "orthogonal"](L)
        ok = abs(g / tg - 1) < tol and (to == 0 and o < 1e-9 or to and abs(o / to - 1) < tol)
        claims.append(
            Claim(
                f"{act}: spread Var[s^2]/E[s^2]^2 of the Jacobian spectrum at depth {L}, "
                "Gaussian vs orthogonal (Pennington Table 1)",
                f"{_fmt(tg)} vs {_fmt(to)}",
                f"{_fmt(g)} vs {_fmt(o)}",
                bool(ok),
            )
        )
    g_t = [at("tanh", "gaussian", depth=dd) for dd in depths]
    o_t = [at("tanh", "orthogonal", depth=dd) for dd in depths]
    claims.append(
        Claim(
            "tanh: orthogonal weights keep the spectrum concentrated at any depth "
            "(dynamical isometry); Gaussian weights spread it ~ L",
            "orthogonal O(1), Gaussian ~ L",
            f"orthogonal {', '.join(_fmt(v) for v in o_t)}; Gaussian "
            f"{', '.join(_fmt(v) for v in g_t)} at depths {', '.join(map(str, depths))}",
            o_t[-1] < 2.5 and o_t[-1] < 0.2 * g_t[-1] and g_t[-1] > 0.5 * L,
        )
    )
    return data, claims, {"spectra": spectra, "depth": L}


EXPERIMENT = Experiment(
    "isometry",
    "Jacobian spectra: orthogonal weights give dynamical isometry (not for ReLU)",
    "A. Saxe, J. McClelland and S. Ganguli (2014), Exact solutions to the nonlinear dynamics "
    "of learning in deep linear neural networks, ICLR; J. Pennington, S. Schoenholz and "
    "S. Ganguli (2017), Resurrecting the sigmoid in deep learning through dynamical isometry, "
    "NeurIPS",
    measure,
    figure,
)
