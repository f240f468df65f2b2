"""Peak memory of a 100,000-run W1-style sweep, measured in a fresh subprocess.

Usage::

    python benchmarks/memory.py                       # 100,000 runs, 2 epochs
    python benchmarks/memory.py --runs 2000 --epochs 1 --max-memory 64MiB   # quick

The grid is W1's (blog data, layers [2, 2, 4], 4 activations x the blog's 4
inits, full-batch GD with eta 1) with as many seeds as it takes to reach
``--runs``.  Peak memory does not grow with the number of epochs (the sweep
keeps final metrics only), so a few epochs measure it; the time per epoch is
reported too.  The sweep runs in a child process so that its peak resident
set size (``resource.getrusage``'s ``ru_maxrss``) is its own; with
``--n-jobs 2`` the worker processes' peaks are added to the parent's (an upper
bound on what is resident at once).  Writes ``benchmarks/results/memory.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CHILD = r"""
import json, resource, sys, time
import initlab
from initlab import datasets, sweep as _sweep

cfg = json.loads(sys.argv[1])
data = datasets.load("blog")
acts = ["sigmoid", "tanh", "relu", "leaky_relu"]
inits = ["zeros", "random", "lecun_normal", "he_normal"]
seeds = range(cfg["seeds"])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
runs = initlab.sweep(data, (2,), acts, inits, ["gd"], [1.0], seeds=seeds, epochs=cfg["epochs"],
                     bias_init="blog", rng_kind="legacy", dtype=cfg["dtype"],
                     max_memory=cfg["max_memory"], n_jobs=cfg["n_jobs"])
seconds = time.perf_counter() - t0
specs = _sweep.plan((2,), acts, inits, ["gd"], [1.0], seeds, cfg["epochs"], bias_init="blog",
                    dtype=cfg["dtype"], rng_kind="legacy")
chunk_list = _sweep.chunks(specs, data, cfg["max_memory"], _sweep.resolve_jobs(cfg["n_jobs"]))
print(json.dumps({
    "runs": len(runs),
    "seconds": seconds,
    "chunks": len(chunk_list),
    "largest_chunk": max(len(c.specs) for c in chunk_list),
    "rss_before_sweep_kib": base,
    "maxrss_self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    "maxrss_workers_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    "diverged": int(runs.diverged.sum()),
}))
"""


def parse_bytes(text: str) -> int:
    """``"512MiB"``, ``"1.5GB"``, ``"1e9"`` -> bytes."""
    m = re.fullmatch(r"\s*([0-9.eE+]+)\s*([kKmMgG]i?[bB]?|[bB])?\s*", str(text))
    if not m:
        raise argparse.ArgumentTypeError(
            f"cannot read {text!r} as a size; write e.g. 512MiB, 1.5GB or 1000000"
        )
    value, unit = float(m.group(1)), (m.group(2) or "").lower().rstrip("b")
    scale = {"": 1, "k": 1e3, "m": 1e6, "g": 1e9, "ki": 2**10, "mi": 2**20, "gi": 2**30}[unit]
    return int(value * scale)


def measure(
    runs: int = 100_000,
    epochs: int = 2,
    max_memory: int | None = None,
    n_jobs: int = 1,
    dtype: str = "float64",
) -> dict:
    """Run the sweep in a subprocess and return its peak memory (bytes) and timing."""
    seeds = math.ceil(runs / 16)
    cfg = {
        "seeds": seeds,
        "epochs": epochs,
        "max_memory": max_memory,
        "n_jobs": n_jobs,
        "dtype": dtype,
    }
    src = str(Path(__file__).resolve().parents[1] / "src")
    env_path = f"{src}"
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(cfg)],
        capture_output=True,
        text=True,
        env={**_env(), "PYTHONPATH": env_path},
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the sweep subprocess failed:\n{proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    kib = 1024
    peak_self = out["maxrss_self_kib"] * kib
    peak_workers = out["maxrss_workers_kib"] * kib if n_jobs != 1 else 0
    out.update(
        config={**cfg, "runs_requested": runs},
        peak_bytes=peak_self + n_jobs * peak_workers if n_jobs != 1 else peak_self,
        peak_self_bytes=peak_self,
        peak_worker_bytes=peak_workers,
        model_epochs_per_s=out["runs"] * epochs / out["seconds"],
    )
    return out


def _env() -> dict:
    import os

    return dict(os.environ)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument(
        "--max-memory", type=parse_bytes, default=None, help="sweep budget per chunk"
    )
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--limit", type=parse_bytes, default=parse_bytes("1.5GB"))
    args = parser.parse_args(argv)
    if args.runs < 16 or args.epochs < 1:
        parser.error(f"need --runs >= 16 and --epochs >= 1, got {args.runs} and {args.epochs}")
    t0 = time.perf_counter()
    result = measure(args.runs, args.epochs, args.max_memory, args.n_jobs, args.dtype)
    result["limit_bytes"] = args.limit
    result["met"] = result["peak_bytes"] < args.limit
    result["wall_s"] = time.perf_counter() - t0
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "memory.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(
        f"{result['runs']:,} runs x {args.epochs} epochs in {result['chunks']} chunk(s) "
        f"(largest {result['largest_chunk']:,} models): peak RSS "
        f"{result['peak_bytes'] / 2**20:,.0f} MiB "
        f"({'<' if result['met'] else '>='} {args.limit / 1e9:.2f} GB), "
        f"{result['seconds']:.1f} s, {result['model_epochs_per_s']:,.0f} model-epochs/s"
    )
    print(f"wrote {path}")
    return result


if __name__ == "__main__":
    main()
