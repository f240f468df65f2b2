"""Statistics over seeds: bootstrap CI, paired test, summaries."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from initlab.stats import bootstrap_ci, paired_p_value, summarize


def test_paired_p_value_equals_scipy_ttest_rel():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(0.8, 0.05, 10)
        b = a - rng.normal(0.01, 0.03, 10)
        assert paired_p_value(a, b) == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-10)


def test_paired_p_value_edge_cases():
    a = np.array([0.5, 0.6, 0.7])
    assert paired_p_value(a, a) == 1.0  # identical runs are tied
    assert paired_p_value(a, a - 0.1) == 0.0  # a constant non-zero difference is not
    assert np.isnan(paired_p_value([np.nan], [0.5]))


def test_bootstrap_ci_covers_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.normal(0, 1, 10)
    large = rng.normal(0, 1, 1000)
    lo, hi = bootstrap_ci(small)
    assert lo < small.mean() < hi
    lo2, hi2 = bootstrap_ci(large)
    assert hi2 - lo2 < (hi - lo) / 5
    assert bootstrap_ci(small) == bootstrap_ci(small)  # seeded
    # about 95% coverage: the interval of n = 1000 is close to mean +- 1.96 sigma / sqrt(n)
    assert hi2 - lo2 == pytest.approx(2 * 1.96 * large.std() / np.sqrt(1000), rel=0.15)


def test_summarize_ranks_within_blocks():
    rows = []
    rng = np.random.default_rng(2)
    for act, base in [("tanh", 0.8), ("relu", 0.6)]:
        for init, shift in [("a", 0.0), ("b", -0.002), ("c", -0.3)]:
            for seed in range(8):
                rows.append(
                    dict(
                        activation=act,
                        init=init,
                        seed=seed,
                        diverged=False,
                        val_acc=base + shift + rng.normal(0, 0.01),
                    )
                )
    summ = summarize(pd.DataFrame(rows), compared=("init",))
    for act in ("tanh", "relu"):
        block = summ[summ.activation == act].set_index("init")
        assert block.loc["c", "rank"] == 3 and not block.loc["c", "tied"]
        assert block.tied[["a", "b"]].all() and block.best.sum() == 1
    with pytest.raises(ValueError, match="unknown metric 'accuracy'"):
        summarize(pd.DataFrame(rows), metric="accuracy")
