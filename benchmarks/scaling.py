"""Do studies stay linear?  Resume lookup, statistics and the report from 1.6k to 400k runs.

For each size the benchmark builds a store of a synthetic study (real run
configurations and hashes from ``Study.plan``, synthetic metrics and 21-epoch
curves written through ``Store.write_chunk``; 4 activations x 10 initializers x
K learning rates x 10 seeds, so 40k configurations at 400k runs) and times:

* ``lookup``: the resume lookup ``Store.done_hashes`` of every run, and the
  same lookup as it used to be written (``status='done' AND hash IN (...)``,
  which SQLite answers through the ``runs_status`` index), as a peer in the
  same run;
* ``load`` and ``summary``: ``Store.runs`` of the study, and
  ``stats.summarize`` over it (configurations x seeds);
* ``report``: ``initlab report`` in a fresh process: wall time and the peak
  memory of its process tree (proportional set size, sampled every 50 ms,
  forked drawing workers included: they share the parent's pages, which a sum
  of resident sizes would count once per process; that sum is recorded too).

Targets at 400k runs: lookup < 2 s, summary < 10 s, report < 60 s and < 1 GB.

Usage: python benchmarks/scaling.py [--sizes 1600 16000 160000 400000] [--keep DIR]
Writes benchmarks/results/scaling.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from initlab import stats
from initlab.store import Store
from initlab.study import Study

RESULTS = Path(__file__).resolve().parent / "results"
EPOCHS = 20
SEEDS = 10
CONFIGS_PER_LR = 4 * 10  # activations x initializers


def study_for(n_runs: int) -> Study:
    k = max(1, n_runs // (CONFIGS_PER_LR * SEEDS))
    return Study(
        name="scale",
        datasets=["moons"],
        hidden=[[8]],
        activations=["tanh", "relu", "sigmoid", "leaky_relu"],
        inits=[
            "zeros",
            "random",
            "xavier_normal",
            "xavier_uniform",
            "he_normal",
            "he_uniform",
            "lecun_normal",
            "lecun_uniform",
            "orthogonal",
            "lsuv",
        ],
        optimizers=["adam"],
        learning_rates=[round(1e-4 * (i + 1), 6) for i in range(k)],
        epochs=[EPOCHS],
        seeds=SEEDS,
    )


def build_store(path: Path, study: Study) -> float:
    """The study's runs stored with synthetic metrics and curves; seconds taken."""
    start = time.perf_counter()
    ((data, specs, hashes),) = study.plan()
    rng = np.random.default_rng(0)
    with Store(path) as st:
        st.save_study(study.name, study.to_dict(), "benchmarks/scaling.py")
        st.link(study.name, hashes)
        step = 5000
        for a in range(0, len(specs), step):
            part = list(zip(specs[a : a + step], hashes[a : a + step], strict=True))
            m = len(part)
            acc = rng.uniform(0.4, 0.95, m)
            loss = rng.uniform(0.1, 1.0, m)
            decay = np.exp(-np.arange(EPOCHS + 1) / 8.0)[:, None]
            curves = {
                "train_loss": loss * (1 + decay),
                "val_loss": loss * (1.1 + decay),
                "train_acc": acc * (1 - 0.5 * decay),
                "val_acc": acc * (1 - 0.5 * decay),
            }
            rows = [
                {
                    "hash": h,
                    "config": spec.config(),
                    "dataset": data.name,
                    "train_loss": loss[j],
                    "val_loss": loss[j] * 1.1,
                    "train_acc": acc[j],
                    "val_acc": acc[j],
                    "diverged": bool(j % 97 == 0),
                    "diverged_epoch": 5 if j % 97 == 0 else -1,
                    "time_s": 0.01,
                }
                for j, (spec, h) in enumerate(part)
            ]
            st.write_chunk(rows, curves)
    return time.perf_counter() - start


def time_lookup(path: Path, hashes: list[str]) -> tuple[float, float]:
    with Store(path, readonly=True) as st:
        start = time.perf_counter()
        assert len(st.done_hashes(hashes)) == len(hashes)
        by_key = time.perf_counter() - start
        # the lookup as it was written before (a peer, same store, same run)
        start = time.perf_counter()
        found = 0
        for i in range(0, len(hashes), 900):
            chunk = hashes[i : i + 900]
            marks = ",".join("?" * len(chunk))
            found += len(
                st.conn.execute(
                    f"SELECT hash FROM runs WHERE status='done' AND hash IN ({marks})", chunk
                ).fetchall()
            )
        by_status = time.perf_counter() - start
        assert found == len(hashes)
    return by_key, by_status


def time_summary(path: Path, study: Study) -> tuple[float, float, int]:
    with Store(path, readonly=True) as st:
        start = time.perf_counter()
        runs = st.runs(study.name)
        load = time.perf_counter() - start
    start = time.perf_counter()
    summary = stats.summarize(runs, compared=study.compare)
    return load, time.perf_counter() - start, len(summary)


def time_report(path: Path, out: Path) -> tuple[float, float, int]:
    """Wall seconds, peak PSS and RSS (bytes) of `initlab report`'s process tree, its size."""
    import psutil

    cmd = [sys.executable, "-m", "initlab.cli", "report", "--study", "scale"]
    cmd += ["--store", str(path), "-o", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    root = psutil.Process(proc.pid)
    peak = peak_rss = 0
    while proc.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
            # PSS: forked drawing workers share the parent's pages; RSS would count them
            # once per process
            full = [p.memory_full_info() for p in tree if p.is_running()]
            peak = max(peak, sum(getattr(m, "pss", m.rss) for m in full))
            peak_rss = max(peak_rss, sum(m.rss for m in full))
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    out_text, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"initlab report failed: {err}")
    return seconds, peak, peak_rss, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1600, 16000, 160000, 400000])
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the stores here")
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="initlab-scaling-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        study = study_for(n)
        path = folder / f"scale-{n}.db"
        built = None
        if not path.exists():
            built = build_store(path, study)
        ((_, specs, hashes),) = study.plan()
        by_key, by_status = time_lookup(path, hashes)
        load, summary, n_configs = time_summary(path, study)
        row = {
            "runs": len(specs),
            "configurations": n_configs,
            "build_s": built,
            "lookup_s": by_key,
            "lookup_status_index_s": by_status,
            "load_s": load,
            "summary_s": summary,
        }
        if not args.no_report:
            seconds, peak, peak_rss, size = time_report(path, folder / f"report-{n}.html")
            row.update(
                report_s=seconds,
                report_peak_pss_mb=peak / 2**20,
                report_peak_rss_sum_mb=peak_rss / 2**20,
                report_mb=size / 2**20,
            )
        rows.append(row)
        print(json.dumps(row), flush=True)
        if args.keep is None:
            path.unlink()
    RESULTS.mkdir(exist_ok=True)
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    (RESULTS / "scaling.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))
    print(
        "\n| runs | configurations | resume lookup (s) | old lookup (s) | load runs (s) "
        "| summary (s) | report (s) | report peak PSS (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['runs']:,} | {r['configurations']:,} | {r['lookup_s']:.2f} | "
            f"{r['lookup_status_index_s']:.2f} | {r['load_s']:.1f} | {r['summary_s']:.1f} | "
            f"{r.get('report_s', float('nan')):.1f} | "
            f"{r.get('report_peak_pss_mb', float('nan')):.0f} |"
        )


if __name__ == "__main__":
    main()
