"""How much the store and the statistics add to a study, and how long `initlab study` takes.

Measures, on the W1 workload (the blog's grid: [2, 2, 4], full-batch GD
eta = 1, 4 initializers x 4 activations x 16 seeds, 200 epochs):

* the training alone: the same populations through ``initlab.sweep.execute``
  with curves recorded, results discarded (same work, no store, no DataFrames);
* the same grid as a :class:`initlab.Study`: ``Study.run`` into a fresh SQLite
  store (runs and per-epoch curves committed chunk by chunk) plus
  ``Study.summary()`` (bootstrap CIs and paired tests);

and reports the overhead as a share of the study's time (target < 10%), as
medians of several repeats.  Then it times the default ``initlab study``
command end to end in a fresh process (target < 10 s on 2 cores).

Usage: python benchmarks/study_overhead.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import initlab
from initlab.study import Study

GRID = dict(
    hidden=[[2]],
    activations=["sigmoid", "tanh", "relu", "leaky_relu"],
    inits=["zeros", "random", "xavier_normal", "he_normal"],
    optimizers=["gd"],
    learning_rates=[1.0],
    epochs=[200],
    seeds=16,
)


def time_sweep() -> float:
    start = time.perf_counter()
    initlab.sweep(
        "blog",
        (2,),
        GRID["activations"],
        GRID["inits"],
        ["gd"],
        [1.0],
        seeds=range(16),
        epochs=200,
        curves=True,
    )
    return time.perf_counter() - start


def time_study(tmp: Path, i: int) -> tuple[float, float]:
    study = Study(name="w1", datasets=["blog"], **GRID)
    start = time.perf_counter()
    study.run(tmp / f"w1-{i}.db")
    trained = time.perf_counter()
    study.summary()
    return trained - start, time.perf_counter() - start


def time_cli(tmp: Path) -> float:
    exe = Path(sys.executable).with_name("initlab")
    start = time.perf_counter()
    subprocess.run(
        [str(exe), "study", "--store", str(tmp / "cli.db"), "--no-report"],
        check=True,
        capture_output=True,
        cwd=tmp,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "study_overhead.json")
    )
    args = parser.parse_args()
    sweeps, runs, totals, clis = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        time_sweep()  # warm-up: imports, caches
        for i in range(args.repeats):
            sweeps.append(time_sweep())
            run_s, total_s = time_study(tmp, i)
            runs.append(run_s)
            totals.append(total_s)
            clis.append(time_cli(tmp))
            (tmp / "cli.db").unlink()
    sweep_s, total_s = statistics.median(sweeps), statistics.median(totals)
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "initlab": initlab.__version__,
        "sweep_s": sweep_s,
        "study_run_s": statistics.median(runs),
        "study_run_and_summary_s": total_s,
        "overhead_share": (total_s - sweep_s) / total_s,
        "cli_default_study_s": statistics.median(clis),
        "repeats": args.repeats,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
