"""Speed-up of the dask executor: one process vs a LocalCluster of 1, 2, ... worker processes.

Trains the same chunks (populations) with :func:`initlab.sweep.execute` in this
process and with :func:`initlab.distributed.execute_dask` on ``LocalCluster``s
of increasing size, checks that every number is bit-identical, and measures
what an extrapolation to more machines needs: the compute time per chunk, the
bytes each chunk, result and the data set weigh on the wire, and the
scheduler's overhead per task.

Usage::

    PYTHONPATH=src python benchmarks/dask_scaling.py                  # digits, 1 and 2 workers
    PYTHONPATH=src python benchmarks/dask_scaling.py --workers 1 2 4 8 --seeds 8 --epochs 100
    PYTHONPATH=src python benchmarks/dask_scaling.py --json out.json

Timing belongs here, never in the tests.  The numbers in docs/distributed.md
come from this script.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import statistics
import time

import numpy as np


def _sizes(obj) -> int:
    return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def _same(a, b) -> bool:
    ra = {r.index: r for r in a}
    rb = {r.index: r for r in b}
    if sorted(ra) != sorted(rb):
        return False
    for i in ra:
        for key, value in ra[i].final.items():
            if not np.array_equal(value, rb[i].final[key], equal_nan=True):
                return False
    return True


def task_overhead(client, n: int = 200) -> float:
    """Seconds of scheduler round trip per tiny task (submit + as_completed + result)."""
    from distributed import as_completed

    start = time.perf_counter()
    futures = [client.submit(abs, -i, pure=False) for i in range(n)]
    for fut in as_completed(futures):
        fut.result()
    return (time.perf_counter() - start) / n


def main(argv=None) -> dict:
    from initlab import datasets
    from initlab.distributed import connect, execute_dask
    from initlab.sweep import chunks, execute, plan

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--hidden", type=int, nargs="+", default=[32])
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--chunks-per-worker", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="keep the fastest of n timings")
    parser.add_argument("--json", default=None, help="also write the measurements here")
    args = parser.parse_args(argv)

    data = datasets.load(args.dataset)
    specs = plan(
        tuple(args.hidden),
        ["tanh", "relu"],
        ["xavier", "he"],
        ["adam"],
        [0.01, 0.003],
        seeds=range(args.seeds),
        epochs=args.epochs,
    )
    # the chunks every executor trains: as many as the largest cluster wants
    n_jobs = max(args.workers) * args.chunks_per_worker // 2
    chunk_list = chunks(specs, data, None, n_jobs=max(n_jobs, 1))
    sizes = [len(c.specs) for c in chunk_list]
    print(
        f"{args.dataset}: {data.n_train} x {data.n_features} -> {data.n_classes} classes; "
        f"{len(specs)} runs of {args.epochs} epochs, hidden {args.hidden}; "
        f"{len(chunk_list)} chunks of {min(sizes)}..{max(sizes)} models; {os.cpu_count()} CPUs"
    )

    # one process, the same chunks, one after the other
    local_s = math.inf
    for _ in range(args.repeat):
        start = time.perf_counter()
        local = list(execute(chunk_list, data, curves=True))
        local_s = min(local_s, time.perf_counter() - start)
    chunk_s = [r.seconds for r in local]
    out = {
        "dataset": args.dataset,
        "runs": len(specs),
        "epochs": args.epochs,
        "hidden": args.hidden,
        "cpus": os.cpu_count(),
        "chunks": len(chunk_list),
        "models_per_chunk": sizes,
        "local_s": local_s,
        "chunk_compute_s": {
            "mean": statistics.mean(chunk_s),
            "max": max(chunk_s),
            "sum": sum(chunk_s),
        },
        "bytes": {
            "dataset": _sizes(data),
            "chunk_mean": statistics.mean(_sizes(c) for c in chunk_list),
            "result_mean_with_curves": statistics.mean(_sizes(r) for r in local),
        },
        "dask": [],
    }
    print(f"local executor: {local_s:.2f} s ({sum(chunk_s):.2f} s inside run_chunk)")
    print(
        f"bytes: data set {out['bytes']['dataset'] / 1e6:.2f} MB (once per worker), chunk "
        f"{out['bytes']['chunk_mean'] / 1e3:.1f} kB, result with curves "
        f"{out['bytes']['result_mean_with_curves'] / 1e3:.1f} kB"
    )

    for n in args.workers:
        start = time.perf_counter()
        session = connect(workers=n)
        startup = time.perf_counter() - start
        try:
            overhead = task_overhead(session.client)
            wall = math.inf
            for _ in range(args.repeat):
                start = time.perf_counter()
                results = list(execute_dask(chunk_list, data, curves=True, client=session.client))
                wall = min(wall, time.perf_counter() - start)
        finally:
            session.close()
        identical = _same(local, results)
        row = {
            "workers": n,
            "startup_s": startup,
            "run_s": wall,
            "speedup": local_s / wall,
            "task_overhead_ms": overhead * 1e3,
            "worker_compute_s": sum(r.seconds for r in results),
            "bit_identical": identical,
            "failed": sum(r.error is not None for r in results),
        }
        out["dask"].append(row)
        print(
            f"dask, {n} worker(s): cluster start {startup:.1f} s, study {wall:.2f} s, "
            f"speed-up x{row['speedup']:.2f} ({row['worker_compute_s']:.2f} s inside run_chunk), "
            f"{row['task_overhead_ms']:.1f} ms/task overhead, "
            f"identical={identical}"
        )

    # Amdahl-style extrapolation: chunks spread over W workers, each chunk pays the
    # scheduler overhead, the data set is fetched once per worker.
    overhead_s = statistics.median(r["task_overhead_ms"] for r in out["dask"]) / 1e3
    print("extrapolation (same chunks, 1 Gbit/s network, per-worker compute as measured here):")
    for w in (1, 2, 4, 8, 16, 32):
        rounds = math.ceil(len(chunk_list) / w)
        t = (
            rounds * out["chunk_compute_s"]["mean"]
            + len(chunk_list) * overhead_s
            + out["bytes"]["dataset"] / 125e6
        )
        print(f"  {w:3d} workers: ~{t:.2f} s (x{local_s / t:.1f})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return out


if __name__ == "__main__":  # the guard matters: LocalCluster workers are spawned processes
    main()
