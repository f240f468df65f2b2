"""Train the same grid with initlab and its peers, side by side; report model-epochs per second.

Usage::

    python benchmarks/run.py --workload W1 --dtype float64 --repeats 3
    python benchmarks/run.py --workload W2 --dtype float32 --peers initlab,jax
    python benchmarks/run.py --workload W3 --emulate avx2          # as on an AVX2-only CPU
    python benchmarks/run.py --workload W1 --quick --peers initlab,numpy-loop   # smoke run

``--emulate avx2`` runs the benchmark in a child process that every library
treats as an AVX2 machine (no AVX-512): NumPy's dispatch
(``NPY_DISABLE_CPU_FEATURES``), OpenBLAS's kernels (``OPENBLAS_CORETYPE``),
numba's code generation (``NUMBA_CPU_NAME``), XLA (``--xla_cpu_max_isa``) and
PyTorch (``ATEN_CPU_CAPABILITY``).  Every result records the SIMD level the
libraries saw (``machine.simd``).

One invocation runs one workload in one dtype, every peer in turn (initlab
first, before PyTorch or JAX are imported), each ``--repeats`` times after an
untimed warm-up (which also pays JAX's compilation; its time is recorded as
``first_call_s``).  It writes ``benchmarks/results/<workload>-<dtype>.json``
and rewrites ``benchmarks/results/summary.md`` from every JSON there.

Timed: training only.  Every peer starts from the same initial weights, drawn
once before timing (initlab's sweep draws them again inside its timed call,
which is part of what a user pays).  Sanity: every peer's final training
losses are compared with initlab's (float64 reference formula for peers that
return weights).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers as _peers  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
# Targets from the issue, as (peer, minimum ratio initlab / peer) per workload.
TARGETS = {
    "W1": [("jax", 1.5), ("torch-loop", 20.0)],
    "W2": [("jax", 1.0), ("torch-loop", 20.0)],
    "W3": [("jax", 1.0)],
}
# What --emulate avx2 sets: each library's switch for "this CPU has AVX2 but no AVX-512".
EMULATIONS = {
    "avx2": {
        "NPY_DISABLE_CPU_FEATURES": "X86_V4,AVX512_ICL,AVX512_SPR",
        "OPENBLAS_CORETYPE": "Haswell",
        "NUMBA_CPU_NAME": "haswell",
        "XLA_FLAGS": "--xla_cpu_max_isa=AVX2",
        "ATEN_CPU_CAPABILITY": "avx2",
    }
}
# agreement of final losses with initlab: |difference| <= tol * (1 + |loss|).  The sanity
# check trains every peer on one seed of every activation x init for SANITY_EPOCHS epochs,
# where the same math must agree to rounding.  After the full workload it is only
# informative: GD with eta 1 from N(0, 1) weights is chaotic (a ReLU unit whose
# pre-activation rounds to the other side of 0 sends the run elsewhere), so a share of
# runs legitimately ends elsewhere in every peer.
AGREEMENT_TOL = {"float64": 1e-9, "float32": 1e-3}
SANITY_EPOCHS = 5


def machine_info() -> dict:
    info = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "numpy": np.__version__,
        "threads_env": {
            k: os.environ.get(k)
            for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if os.environ.get(k)
        },
    }
    for mod in ("initlab", "scipy", "sklearn", "torch", "jax", "jaxlib"):
        if importlib.util.find_spec(mod) is not None:
            try:
                from importlib.metadata import version

                info[mod] = version({"sklearn": "scikit-learn"}.get(mod, mod))
            except Exception:  # pragma: no cover - a source checkout without metadata
                info[mod] = "unknown"
    info["simd"] = simd_info()
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for d in threadpool_info()
        ]
    except ImportError:  # pragma: no cover
        pass
    return info


def simd_info() -> dict:
    """The SIMD level each library uses here (after any emulation switches).

    NumPy: its baseline and the dispatch targets it enables (``X86_V4`` is
    AVX-512, ``X86_V3`` AVX2; ``numpy.show_runtime`` prints the same); numba:
    the CPU it compiles for; OpenBLAS: its kernel core type.
    """
    out: dict = {"emulated": os.environ.get("INITLAB_BENCH_EMULATE")}
    try:
        from numpy._core._multiarray_umath import (
            __cpu_baseline__,
            __cpu_dispatch__,
            __cpu_features__,
        )

        out["numpy_baseline"] = list(__cpu_baseline__)
        out["numpy_dispatch"] = [f for f in __cpu_dispatch__ if __cpu_features__.get(f)]
        out["cpu_has"] = [f for f in ("AVX2", "FMA3", "AVX512F") if __cpu_features__.get(f)]
    except ImportError:  # pragma: no cover - NumPy < 2
        pass
    for key in EMULATIONS["avx2"]:
        if os.environ.get(key):
            out[key] = os.environ[key]
    if importlib.util.find_spec("numba") is not None:
        import llvmlite.binding as llvm

        out["numba_cpu"] = os.environ.get("NUMBA_CPU_NAME") or llvm.get_host_cpu_name()
    return out


def emulate(kind: str, argv: list[str]) -> int:
    """Run this script again in a child process with the emulation switches of ``kind``."""
    import subprocess

    env = {**os.environ, **EMULATIONS[kind], "INITLAB_BENCH_EMULATE": kind}
    args = [a for a in argv if a != "--emulate" and a != kind]
    return subprocess.call([sys.executable, str(Path(__file__).resolve()), *args], env=env)


def _emulated(args, argv: list[str]) -> dict:
    """Run in an emulating child process; its result, read back from its JSON."""
    code = emulate(args.emulate, argv)
    if code:
        raise SystemExit(code)
    suffix = ("-quick" if args.quick else "") + f"-{args.emulate}"
    return json.loads((args.out / f"{args.workload}-{args.dtype}{suffix}.json").read_text())


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover
        pass
    return platform.processor() or "unknown"


def final_losses(problem: _peers.Problem, output) -> np.ndarray:
    """A peer's output as final training losses per run (NaN where it did not run)."""
    if isinstance(output, np.ndarray):
        return output.astype(float)
    out = np.full(len(problem.runs), np.nan)
    for i, (run, params) in enumerate(zip(problem.runs, output, strict=True)):
        if params is not None:
            out[i] = _peers.reference_loss(run.activation, params, problem.X, problem.y)
    return out


def agreement(ref: np.ndarray, got: np.ndarray, tol: float) -> dict:
    both = np.isfinite(ref) & np.isfinite(got)
    if not both.any():
        return {"compared": 0}
    err = np.abs(ref[both] - got[both]) / (1 + np.abs(ref[both]))
    return {
        "compared": int(both.sum()),
        "max_rel_diff": float(err.max()),
        "median_rel_diff": float(np.median(err)),
        "within_tol": int((err <= tol).sum()),
        "tol": tol,
        "agree": bool((err <= tol).all()),
    }


def _losses(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _cpu_seconds() -> float:
    """CPU time of this process and its reaped children (initlab's worker processes)."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def sanity(peer: _peers.Peer, problem: _peers.Problem) -> np.ndarray:
    """Final losses of a short run (one seed per activation x init, SANITY_EPOCHS epochs)."""
    short = _peers.shorten(problem, 1, SANITY_EPOCHS)
    prepared = peer.prepare(short) if peer.prepare else None
    return final_losses(short, peer.train(short, prepared))


def run_peer(
    peer: _peers.Peer, problem: _peers.Problem, repeats: int, loop_seeds: int | None
) -> dict:
    short_losses = sanity(peer, problem)
    full = problem
    keep = list(range(len(problem.runs)))
    if peer.loop and loop_seeds is not None and loop_seeds < problem.workload.seeds:
        problem, keep = _peers.subset(problem, loop_seeds)
    prepared = peer.prepare(problem) if peer.prepare else None
    t0 = time.perf_counter()
    output = peer.train(problem, prepared)
    first = time.perf_counter() - t0
    times, cpu = [], []
    for _ in range(repeats):
        if peer.prepare:
            prepared = peer.prepare(problem)
        t0, c0 = time.perf_counter(), _cpu_seconds()
        output = peer.train(problem, prepared)
        times.append(time.perf_counter() - t0)
        cpu.append(_cpu_seconds() - c0)
    losses = np.full(len(full.runs), np.nan)
    losses[keep] = final_losses(problem, output)
    n_runs = len(problem.runs)
    if peer.name == "sklearn":  # runs it cannot express are skipped, not counted
        n_runs = sum(r.activation in _peers.SKLEARN_ACTIVATIONS for r in problem.runs)
    median = statistics.median(times)
    return {
        "description": peer.description,
        "times_s": times,
        "cpu_s": cpu,
        "median_s": median,
        "median_cpu_s": statistics.median(cpu),
        "first_call_s": first,
        "runs": n_runs,
        "subset": len(keep) < len(full.runs),
        "model_epochs": n_runs * problem.workload.epochs,
        "model_epochs_per_s": n_runs * problem.workload.epochs / median,
        "model_epochs_per_cpu_s": n_runs * problem.workload.epochs / statistics.median(cpu),
        "final_losses": [None if not np.isfinite(v) else float(v) for v in losses],
        "sanity_losses": [None if not np.isfinite(v) else float(v) for v in short_losses],
        "threads": _threads(peer.name),
    }


def _threads(name: str):
    if name.startswith("torch"):
        import torch

        return {"torch_num_threads": torch.get_num_threads()}
    if name == "initlab":
        return {"processes": 2, "blas_threads_per_process": 1}
    return None


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", choices=sorted(_peers.WORKLOADS), default="W1")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--peers",
        default="all",
        help=f"comma-separated, from: {', '.join(_peers.PEERS)} (default all available)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for smoke tests")
    parser.add_argument(
        "--loop-seeds",
        type=int,
        default=None,
        help="time the one-model-at-a-time peers on the first K seeds of every "
        "activation x init (their cost is linear in runs); default: all",
    )
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch.set_num_threads for the torch peers (default 1; 0: torch's default)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    parser.add_argument(
        "--emulate",
        choices=sorted(EMULATIONS),
        default=None,
        help="run as on a CPU without AVX-512 (see the module docstring)",
    )
    args = parser.parse_args(argv)
    if args.emulate and os.environ.get("INITLAB_BENCH_EMULATE") != args.emulate:
        return _emulated(args, list(sys.argv[1:] if argv is None else argv))
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")

    if args.peers == "all":
        names = [
            n
            for n, p in _peers.PEERS.items()
            if p.needs is None or importlib.util.find_spec(p.needs) is not None
        ]
    else:
        names = [n.strip() for n in args.peers.split(",") if n.strip()]
        unknown = [n for n in names if n not in _peers.PEERS]
        if unknown:
            parser.error(f"unknown peer {unknown[0]!r}; choose from: {', '.join(_peers.PEERS)}")
    # initlab first: its worker processes fork before torch/jax are imported
    names.sort(key=lambda n: (not n.startswith("initlab"), list(_peers.PEERS).index(n)))

    if args.torch_threads > 0:
        _peers.TORCH_THREADS = args.torch_threads
    else:
        _peers.TORCH_THREADS = os.cpu_count() or 1
    workload = _peers.WORKLOADS[args.workload]
    if args.quick:
        workload = _peers.quick(workload)
    problem = _peers.make_problem(workload, args.dtype)
    result = {
        "workload": args.workload,
        "quick": args.quick,
        "dtype": args.dtype,
        "config": {
            "dataset": workload.dataset,
            "layer_sizes": list(problem.layer_sizes),
            "activations": list(workload.activations),
            "inits": list(workload.inits),
            "seeds": workload.seeds,
            "epochs": workload.epochs,
            "learning_rate": workload.learning_rate,
            "optimizer": (
                f"full-batch momentum {workload.momentum}"
                if workload.momentum
                else "full-batch gradient descent"
            ),
            "loss": "softmax cross-entropy (mean)",
            "n_train": int(len(problem.y)),
            "runs": len(problem.runs),
            "repeats": args.repeats,
            "loop_seeds": args.loop_seeds,
            "torch_threads": _peers.TORCH_THREADS,
        },
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "peers": {},
    }
    for name in names:
        print(f"[{args.workload} {args.dtype}] {name} ...", flush=True)
        try:
            result["peers"][name] = run_peer(
                _peers.PEERS[name], problem, args.repeats, args.loop_seeds
            )
        except ImportError as exc:
            result["peers"][name] = {"error": f"not installed: {exc}"}
        except Exception as exc:  # one peer failing must not lose the others' numbers
            result["peers"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        r = result["peers"][name]
        if "median_s" in r:
            print(
                f"    median {r['median_s']:.3f} s, {r['model_epochs_per_s']:,.0f} model-epochs/s"
                f" (first call {r['first_call_s']:.3f} s)",
                flush=True,
            )
    ref_name = next((n for n in ("initlab", "initlab-1core") if n in result["peers"]), None)
    ratios, cpu_ratios, checks = {}, {}, {}
    if ref_name and "median_s" in result["peers"][ref_name]:
        ref = result["peers"][ref_name]
        for name, r in result["peers"].items():
            if name == ref_name or "median_s" not in r:
                continue
            ratios[name] = ref["model_epochs_per_s"] / r["model_epochs_per_s"]
            cpu_ratios[name] = ref["model_epochs_per_cpu_s"] / r["model_epochs_per_cpu_s"]
            tol = AGREEMENT_TOL[args.dtype]
            checks[name] = agreement(
                _losses(ref["sanity_losses"]), _losses(r["sanity_losses"]), tol
            )
            checks[name]["full_length"] = agreement(
                _losses(ref["final_losses"]), _losses(r["final_losses"]), tol
            )
    result["reference"] = ref_name
    result["ratios"] = ratios  # initlab speed / peer speed (model-epochs per second)
    result["cpu_ratios"] = cpu_ratios  # the same per CPU second (all threads, processes)
    result["agreement"] = checks
    result["targets"] = [
        {
            "peer": peer,
            "min_ratio": need,
            "ratio": ratios.get(peer),
            "met": ratios.get(peer, 0) >= need,
        }
        for peer, need in TARGETS[args.workload]
        if peer in ratios
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    emulated = os.environ.get("INITLAB_BENCH_EMULATE")
    suffix = ("-quick" if args.quick else "") + (f"-{emulated}" if emulated else "")
    path = args.out / f"{args.workload}-{args.dtype}{suffix}.json"
    path.write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "summary.md").write_text(summary(args.out))
    print(f"wrote {path} and {args.out / 'summary.md'}")
    for name, ratio in ratios.items():
        check = checks[name]
        print(
            f"    initlab / {name}: {ratio:6.2f}x   {SANITY_EPOCHS}-epoch losses agree: "
            f"{check.get('agree')} (max rel diff {check.get('max_rel_diff', float('nan')):.1e},"
            f" {check.get('within_tol')}/{check.get('compared')} within {check.get('tol')}); "
            f"after all epochs {check['full_length'].get('within_tol')}/"
            f"{check['full_length'].get('compared')}"
        )
    return result


def _simd_level(simd: dict) -> str:
    dispatch = simd.get("numpy_dispatch", [])
    if "X86_V4" in dispatch:
        return "AVX-512"
    if "X86_V3" in dispatch or "AVX2" in simd.get("cpu_has", []):
        return "AVX2"
    return "SIMD level unknown"


def _agree_cell(check: dict) -> str:
    if not check.get("compared"):
        return "—"
    return f"{check['within_tol']}/{check['compared']} (max {check['max_rel_diff']:.0e})"


def summary(directory: Path) -> str:
    """A Markdown table of every result JSON in ``directory``."""
    lines = [
        "# Benchmark results",
        "",
        "Model-epochs per second (higher is better), median of the repeats; the ratio is",
        "initlab's speed over the peer's, measured in the same run.  Generated by",
        "`benchmarks/run.py`; see `docs/benchmarks.md`.",
        "",
    ]
    for path in sorted(directory.glob("W*.json")):
        r = json.loads(path.read_text())
        c = r["config"]
        simd = r["machine"].get("simd", {})
        level = _simd_level(simd)
        title = (
            f"## {r['workload']} {r['dtype']}, {level}"
            + (" (emulated)" if simd.get("emulated") else "")
            + (" (quick)" if r.get("quick") else "")
        )
        lines += [
            title,
            "",
            f"{c['runs']} runs, layers {c['layer_sizes']}, {c['epochs']} epochs, "
            f"{c['optimizer']}, N={c['n_train']}, {c['repeats']} repeats; "
            f"{r['machine']['cpu']}, {r['machine']['cpu_count']} cores; {r['date']}; "
            f"NumPy dispatch {simd.get('numpy_dispatch', '?')}, numba CPU "
            f"{simd.get('numba_cpu', '?')}, OpenBLAS core {simd.get('OPENBLAS_CORETYPE', 'auto')}",
            "",
            "| peer | median s | model-epochs/s | initlab ÷ peer | CPU s | initlab ÷ peer "
            "per CPU s | first call s | runs timed | sanity: 5-epoch losses agree "
            "| final losses agree |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for name, p in r["peers"].items():
            if "median_s" not in p:
                lines.append(f"| {name} |" + " — |" * 8 + f" {p.get('error', '')} |")
                continue
            ratio = r["ratios"].get(name)
            check = r["agreement"].get(name, {})
            agree, agree_full = (_agree_cell(check), _agree_cell(check.get("full_length", {})))
            if name == r.get("reference"):
                agree = agree_full = "reference"
            cpu_ratio = r.get("cpu_ratios", {}).get(name)
            lines.append(
                f"| {name} | {p['median_s']:.3f} | {p['model_epochs_per_s']:,.0f} | "
                f"{'—' if ratio is None else f'{ratio:.2f}x'} | {p.get('median_cpu_s', 0):.2f} | "
                f"{'—' if cpu_ratio is None else f'{cpu_ratio:.2f}x'} | "
                f"{p['first_call_s']:.2f} | {p['runs']} | {agree} | {agree_full} |"
            )
        targets = r.get("targets", [])
        if targets:
            lines.append("")
            lines.append(
                "Targets: "
                + "; ".join(
                    f"vs {t['peer']} >= {t['min_ratio']}x: {t['ratio']:.2f}x "
                    + ("met" if t["met"] else "**not met**")
                    for t in targets
                )
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
