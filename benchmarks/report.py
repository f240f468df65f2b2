"""How long the HTML report takes as a study grows: 160, 1,600 and 16,000 runs.

The blog's grid (4 initializers x 4 activations, its recipe) with 10, 100 and
1,000 seeds is trained once per size into a fresh store (short runs: the
report's work depends on the number of runs and configurations, hardly on
the epochs), then ``initlab.report.build`` writes its report, as ``initlab
report`` does (figures drawn by forked workers where possible).  Each size is
timed several times (medians, wall clock and this process's CPU time) and
compared with the smallest in the same run: the report is linear in the runs
when ``seconds_per_1000_runs`` of the marginal cost stays flat and the ratio to
the 160-run report stays well under the ratio of runs.

Usage: python benchmarks/report.py [--repeats 3] [--seeds 10,100,1000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import initlab  # noqa: E402
from initlab import report  # noqa: E402
from initlab.study import Study  # noqa: E402

EPOCHS = 10


def _cpu() -> float:
    """CPU seconds of this process and its (forked, finished) children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def time_size(tmp: Path, seeds: int, repeats: int) -> dict:
    study = Study.preset("blog", seeds=seeds, epochs=EPOCHS, name=f"blog-{seeds}")
    store = tmp / f"blog-{seeds}.db"
    started = time.perf_counter()
    result = study.run(store)
    trained = time.perf_counter() - started
    walls, cpus, sizes = [], [], []
    for i in range(repeats):
        out = tmp / f"report-{seeds}-{i}.html"
        c0, w0 = _cpu(), time.perf_counter()
        report.build(study.name, store, out, command="benchmarks/report.py")
        walls.append(time.perf_counter() - w0)
        cpus.append(_cpu() - c0)
        sizes.append(out.stat().st_size)
    return {
        "runs": result.total,
        "seeds": seeds,
        "train_s": trained,
        "report_s": statistics.median(walls),
        "report_cpu_s": statistics.median(cpus),
        "html_mb": statistics.median(sizes) / 1e6,
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", default="10,100,1000", help="seeds per size, comma-separated")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "report.json"))
    args = parser.parse_args(argv)
    from run import _simd_level, simd_info

    sizes = []
    with tempfile.TemporaryDirectory() as tmp:
        for seeds in (int(s) for s in args.seeds.split(",")):
            sizes.append(time_size(Path(tmp), seeds, args.repeats))
            print(json.dumps(sizes[-1]), flush=True)
    base = sizes[0]
    for s in sizes:
        s["runs_ratio"] = s["runs"] / base["runs"]
        s["time_ratio"] = s["report_s"] / base["report_s"]
        s["cpu_ratio"] = s["report_cpu_s"] / base["report_cpu_s"]
    for prev, s in zip(sizes, sizes[1:], strict=False):
        # the marginal cost of more runs: linear when it stays flat from size to size
        s["marginal_cpu_s_per_1000_runs"] = (
            1000 * (s["report_cpu_s"] - prev["report_cpu_s"]) / (s["runs"] - prev["runs"])
        )
    simd = simd_info()
    result = {
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "simd": simd,
            "simd_level": _simd_level(simd),
            "load_average": os.getloadavg(),
        },
        "initlab": initlab.__version__,
        "epochs": EPOCHS,
        "repeats": args.repeats,
        "sizes": sizes,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
