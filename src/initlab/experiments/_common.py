"""What every experiment shares: claims, results, and the helpers of their figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Claim:
    """One finding: what the paper says, what we measured, and whether it holds."""

    claim: str
    paper: str
    ours: str
    holds: bool

    def __post_init__(self):
        object.__setattr__(self, "holds", bool(self.holds))  # not numpy.bool_


@dataclass
class ExperimentResult:
    """The outcome of :func:`run`.

    Attributes
    ----------
    name, title, reference : str
    data : pandas.DataFrame
        Tidy measurements (one row per configuration / layer / epoch).
    claims : list of Claim
    quick : bool
        Whether the reduced size was run.
    seconds : float
        Wall-clock time of the run.
    extra : dict
        Further arrays the figure uses (spectra, curves).
    """

    name: str
    title: str
    reference: str
    data: pd.DataFrame
    claims: list[Claim]
    quick: bool
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)
    plotter: Callable | None = None

    @property
    def all_hold(self) -> bool:
        return all(c.holds for c in self.claims)

    def claims_frame(self) -> pd.DataFrame:
        """The claims as a table: claim, paper, ours, holds."""
        return pd.DataFrame(
            [(c.claim, c.paper, c.ours, c.holds) for c in self.claims],
            columns=["claim", "paper", "ours", "holds"],
        )

    def figure(self):
        """A matplotlib Figure of the measurements, drawn by :mod:`initlab.plots`."""
        if self.plotter is None:
            raise ValueError(f"experiment {self.name!r} has no figure")
        return self.plotter(self)


@dataclass(frozen=True)
class Experiment:
    """A registered reproduction: ``fn(quick, random_state) -> (data, claims, extra)``."""

    name: str
    title: str
    reference: str
    fn: Callable
    plotter: Callable


# --- helpers ---------------------------------------------------------------------------------
def _geomean_ratio(values) -> float:
    """Geometric mean of consecutive ratios ``v[l+1] / v[l]``."""
    v = np.asarray(values, dtype=float)
    return float(np.exp(np.mean(np.diff(np.log(v)))))


def _fmt(x: float, digits: int = 3) -> str:
    if not np.isfinite(x):
        return str(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e4):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _first_epoch_below(curve: np.ndarray, fraction: float) -> int:
    """First epoch whose loss is below ``fraction`` of the initial loss (-1 if never)."""
    hits = np.flatnonzero(np.asarray(curve) < fraction * curve[0])
    return int(hits[0]) if len(hits) else -1
