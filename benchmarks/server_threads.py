"""Time per epoch of a playground session in a server training thread, with and without
one BLAS thread.

The playground trains in worker threads (``initlab.web.app.TrainingPool``),
several sessions at once.  OpenBLAS's default is one thread per core, and its
threads spin while they wait; next to other busy threads (other sessions,
other processes) they make the small products of these networks many times
slower.  The server therefore sets BLAS to one thread for as long as it runs.

This measures a single network of 6 x 64 tanh layers on 2000 moons points
(1500 training), full batch Adam -- the largest the server allows -- trained
epoch by epoch through :meth:`initlab.web.session.Session.advance` in a
worker thread, once with BLAS as it comes and once with one BLAS thread, in
the same run.  Reports the median milliseconds per epoch and the ratio.  The
gap grows with the machine's load (other processes keep the cores busy).
``--busy n`` also measures it next to ``n`` other threads training the same
network in the process; there the engine's own one-thread context around each
``Trainer.step`` (process-wide, so the threads flip it for each other) blurs
the two cases.  Writes ``benchmarks/results/server_threads.json``.

Usage: python benchmarks/server_threads.py [--epochs 40] [--busy 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import machine_info  # noqa: E402

from initlab.web.config import parse_config  # noqa: E402
from initlab.web.session import Session  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CONFIG = {"dataset": "moons", "n_samples": 2000, "hidden": [64] * 6, "activation": "tanh",
          "optimizer": "adam", "epochs": 5000}  # fmt: skip


def per_epoch(epochs: int, busy: int) -> float:
    """Median seconds per epoch of one session in a thread, next to ``busy`` others."""
    stop = threading.Event()

    def other():
        s = Session(parse_config(CONFIG))
        while not stop.is_set():
            s.advance(1)

    others = [threading.Thread(target=other, daemon=True) for _ in range(busy)]
    for t in others:
        t.start()
    times: list[float] = []

    def measured():
        s = Session(parse_config(CONFIG))
        s.advance(2)  # warm up
        for _ in range(epochs):
            t0 = time.perf_counter()
            s.advance(1)
            times.append(time.perf_counter() - t0)

    worker = threading.Thread(target=measured)
    worker.start()
    worker.join()
    stop.set()
    for t in others:
        t.join()
    return statistics.median(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--busy", type=int, default=0)
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_info, threadpool_limits

    default_threads = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
    rows = {}
    for busy in sorted({0, args.busy}):
        default = per_epoch(args.epochs, busy)
        with threadpool_limits(limits=1, user_api="blas"):
            one = per_epoch(args.epochs, busy)
        rows[str(busy)] = {
            "default_blas_ms": 1000 * default,
            "one_blas_thread_ms": 1000 * one,
            "ratio": default / one,
        }
        print(
            f"6 x 64 tanh, 1500 training points, {busy} other session(s) training: "
            f"{1000 * default:.1f} ms/epoch with BLAS's default {default_threads} threads, "
            f"{1000 * one:.1f} ms with one ({default / one:.1f}x)"
        )
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = {"config": CONFIG, "epochs": args.epochs, "busy": rows, "load_average": load,
           "machine": machine_info()}  # fmt: skip
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "server_threads.json").write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
