"""Statistics over seeds: means, bootstrap confidence intervals, paired tests, rankings.

A study trains every configuration with several seeds.  :func:`summarize`
collapses the seeds of each configuration into ``n``, ``mean``, ``std`` and a
bootstrap 95% confidence interval of the mean, then, within each *block*
(the configurations that are compared with each other: same data set,
optimizer, architecture, learning rate, ...), ranks them and marks the best
and those statistically tied with it.

"Tied with the best" uses a paired test across seeds: runs of two
configurations with the same seed share the data split and the batch order,
so we test the per-seed differences (a paired t-test; if every difference is
exactly zero the two are identical, hence tied).  A configuration is tied
when the test cannot reject equality at ``alpha`` (0.05).  No
multiple-comparison correction is applied: "tied" means "not shown worse".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special as _special

from . import runs as _runs

__all__ = ["bootstrap_ci", "paired_p_value", "summarize", "config_columns", "COMPARED"]

#: Within a block, configurations differ in these columns (the blog's table).
COMPARED = ("init", "activation", "bias_init")


def bootstrap_ci(
    values: np.ndarray, level: float = 0.95, n_boot: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (seeded, so reproducible)."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (np.nan, np.nan)
    if len(x) == 1 or np.all(x == x[0]):
        return (float(x[0]) if len(x) == 1 else float(x.mean()),) * 2
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(n_boot, len(x)))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_p_value(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided paired t-test p-value for equal means; 1.0 when the pairs are identical."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    d = a[ok] - b[ok]
    if len(d) == 0:
        return np.nan
    if np.all(d == 0):
        return 1.0
    if len(d) < 2 or np.all(d == d[0]):
        return 0.0  # a constant non-zero difference: never equal
    # the paired t-test (as scipy.stats.ttest_rel), from the t distribution's CDF in
    # scipy.special: importing scipy.stats would double `initlab study`'s start-up time
    n = len(d)
    t = d.mean() / (d.std(ddof=1) / np.sqrt(n))
    return float(2 * _special.stdtr(n - 1, -abs(t)))


def config_columns(runs: pd.DataFrame) -> list[str]:
    """The columns that say what a run was, seed excluded: the data set and the run
    fields (:mod:`initlab.runs`); metrics and bookkeeping are not configuration."""
    fields = set(_runs.names()) - {"seed"}
    return [c for c in runs.columns if c == "dataset" or c in fields]


def compared_columns(data: pd.DataFrame, cfg: list[str], compared) -> list[str]:
    """The compared columns and those that follow from them.

    A conditional field follows its owner (the leaky slope the activation, momentum
    the optimizer); a setting fixed by the compared ones (minibatch's batch size by
    the optimizer, the blog's biases by the initializer) is compared with them, so it
    never splits a comparison into blocks.
    """
    out = [c for c in compared if c in cfg]
    for c in cfg:
        if c in out:
            continue
        try:
            f = _runs.get_field(c)
        except ValueError:
            f = None
        if f is not None and f.conditional and f.owner in out:
            out.append(c)
        elif out and data[c].nunique(dropna=False) > 1:
            if data.groupby(out, dropna=False)[c].nunique(dropna=False).max() <= 1:
                out.append(c)
    return out


def summarize(
    runs: pd.DataFrame,
    metric: str = "val_acc",
    higher_is_better: bool | None = None,
    alpha: float = 0.05,
    compared: Sequence[str] = COMPARED,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per configuration (seeds collapsed) with statistics, rank, best and tied.

    Parameters
    ----------
    runs : DataFrame
        One row per run, with a ``seed`` column and configuration columns.
    metric : str
        Column to summarize (accuracies: higher is better; losses: lower).
    compared : columns that vary *within* a block; every other configuration
        column defines the blocks.

    Returns
    -------
    DataFrame with the configuration columns, ``block`` (an integer id),
    ``n``, ``mean``, ``std``, ``ci_low``, ``ci_high``, ``diverged`` (fraction
    of seeds), ``rank`` (1 = best within the block), ``best``, ``tied`` (not
    shown worse than the best by a paired test; the best is tied with itself)
    and ``p_value`` (against the best).
    """
    if runs.empty:
        raise ValueError("no runs to summarize")
    if metric not in runs.columns:
        raise ValueError(
            f"unknown metric {metric!r}; choose one of: "
            f"{', '.join(c for c in runs.columns if c.endswith(('_acc', '_loss')))}"
        )
    if higher_is_better is None:
        higher_is_better = not metric.endswith("loss")
    cfg = config_columns(runs)
    data = runs.copy()
    # NaN in a configuration column (a hyperparameter an optimizer lacks) must group too
    for c in cfg:
        if data[c].isna().any():
            data[c] = data[c].astype(object).where(data[c].notna(), "-")
    compared = compared_columns(data, cfg, compared)
    block_cols = [c for c in cfg if c not in compared]
    rows = []
    for key, group in data.groupby(cfg, sort=False, dropna=False):
        values = group[metric].to_numpy(float)
        lo, hi = bootstrap_ci(values, level)
        row = dict(zip(cfg, key if isinstance(key, tuple) else (key,), strict=True))
        finite = values[np.isfinite(values)]
        row.update(
            n=len(values),
            mean=float(finite.mean()) if len(finite) else np.nan,
            std=float(finite.std(ddof=1)) if len(finite) > 1 else 0.0,
            ci_low=lo,
            ci_high=hi,
            diverged=float(group["diverged"].mean()) if "diverged" in group else 0.0,
        )
        rows.append(row)
    out = pd.DataFrame(rows)
    out["block"] = out.groupby(block_cols, sort=False, dropna=False).ngroup() if block_cols else 0
    out["rank"] = 0
    out["best"] = False
    out["tied"] = False
    out["p_value"] = np.nan
    for _, idx in out.groupby("block").groups.items():
        block = out.loc[idx]
        order = block["mean"].rank(ascending=not higher_is_better, method="min", na_option="bottom")
        out.loc[idx, "rank"] = order.astype(int)
        best_i = block["mean"].idxmax() if higher_is_better else block["mean"].idxmin()
        if pd.isna(best_i):
            continue
        best_runs = _seed_values(data, out.loc[best_i], cfg, metric)
        for i in idx:
            other = _seed_values(data, out.loc[i], cfg, metric)
            common = best_runs.index.intersection(other.index)
            p = paired_p_value(best_runs[common].to_numpy(), other[common].to_numpy())
            out.loc[i, "p_value"] = p
            out.loc[i, "tied"] = bool(i == best_i or (np.isfinite(p) and p >= alpha))
        out.loc[best_i, "best"] = True
    return out


def _seed_values(data: pd.DataFrame, row: pd.Series, cfg: list[str], metric: str) -> pd.Series:
    mask = np.ones(len(data), bool)
    for c in cfg:
        mask &= (data[c] == row[c]).to_numpy()
    sel = data.loc[mask]
    return pd.Series(sel[metric].to_numpy(float), index=sel["seed"].to_numpy())
