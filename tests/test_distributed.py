"""Studies on a Dask cluster (all on loopback): equal to local runs, robust, clear errors.

One cluster of real processes -- ``dask scheduler`` and ``dask worker --nworkers 2``
started from the command line -- serves most tests; one test lets ``Study.run``
start its own ``LocalCluster``.
"""

import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from initlab import __version__  # noqa: E402
from initlab import datasets as _datasets  # noqa: E402
from initlab import distributed as idist  # noqa: E402
from initlab.store import Store, StoreError  # noqa: E402
from initlab.study import Study  # noqa: E402
from initlab.sweep import Chunk, RunSpec, chunks, plan  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")
METRICS = ["train_loss", "train_acc", "val_loss", "val_acc", "diverged_epoch"]
MAX_MEMORY = 100_000  # two models per chunk: ~9 chunks per study


def small(name="dask", epochs=20, **kw) -> Study:
    cfg = dict(
        name=name,
        datasets=[{"name": "moons", "n_samples": 200, "random_state": 0}],
        hidden=[[6]],
        activations=["tanh", "relu"],
        inits=["xavier", "he", "zeros"],
        optimizers=["gd"],
        learning_rates=[0.5],
        epochs=[epochs],
        seeds=3,
    )
    cfg.update(kw)
    return Study(**cfg)


def stored(name, db):
    """Runs and curves of a stored study, in a fixed order."""
    s = Study.load(name, db)
    runs = s.results().sort_values("run_hash").reset_index(drop=True)
    curves = s.curves().sort_values(["run_hash", "epoch"]).reset_index(drop=True)
    return runs, curves


def assert_same_study(name_a, db_a, name_b, db_b, exact=True):
    """Row for row and epoch for epoch: bit-identical, or to 1e-12 when ``exact`` is False."""
    ra, ca = stored(name_a, db_a)
    rb, cb = stored(name_b, db_b)
    assert list(ra.run_hash) == list(rb.run_hash)
    tol = {"check_exact": True} if exact else {"check_exact": False, "rtol": 1e-12, "atol": 0}
    pd.testing.assert_frame_equal(ra[["run_hash", *METRICS]], rb[["run_hash", *METRICS]], **tol)
    pd.testing.assert_frame_equal(ca, cb, **tol)
    for col in ("train_acc", "val_acc", "diverged_epoch"):  # counts never differ
        assert list(ra[col]) == list(rb[col])


# Dask's HTTP servers (the scheduler's on 8787, each worker's and nanny's) listen on every
# interface unless given an address, --no-dashboard or not: keep them on loopback too
LOOPBACK_HTTP = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


@pytest.fixture(scope="module")
def local_dbs(tmp_path_factory):
    """The reference: the test studies run with the local executor, in the same chunks."""
    root = tmp_path_factory.mktemp("local")
    small().run(root / "a.db", max_memory=MAX_MEMORY)
    small().run(root / "c.db")  # default chunks: one population per activation
    return {20: root / "a.db", "default": root / "c.db"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _dask_command() -> list[str]:
    exe = Path(sys.executable).with_name("dask")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("dask")
    if found:
        return [found]
    return [sys.executable, "-m", "dask"]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """``dask scheduler`` + ``dask worker --nworkers 2`` as separate processes; its address."""
    workdir = tmp_path_factory.mktemp("dask")
    env = {**os.environ, "PYTHONPATH": SRC}  # the workers import this checkout's initlab
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = _dask_command()
    logs = [open(workdir / "scheduler.log", "w"), open(workdir / "worker.log", "w")]  # noqa: SIM115
    procs = [
        subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), *LOOPBACK_HTTP],
            cwd=workdir,
            env=env,
            stdout=logs[0],
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ]
    try:
        procs.append(
            subprocess.Popen(
                [
                    *dask,
                    "worker",
                    address,
                    "--nworkers",
                    "2",
                    "--nthreads",
                    "1",
                    *LOOPBACK_HTTP,
                    "--host",
                    "127.0.0.1",
                    "--local-directory",
                    str(workdir),
                ],
                cwd=workdir,
                env=env,
                stdout=logs[1],
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        with distributed.Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in reversed(procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:  # pragma: no cover
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in logs:
            log.close()


@pytest.fixture
def client(cluster):
    """A test's own connection to the cluster, with both workers up (one may be restarting)."""
    with distributed.Client(cluster, timeout=30) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


# --- same results as the local executor ----------------------------------------------------------
def test_local_cluster_started_for_you_equals_the_local_run(tmp_path, local_dbs):
    report = small().run(tmp_path / "d.db", executor="dask", workers=2, max_memory=MAX_MEMORY)
    assert (report.total, report.trained, report.failed) == (18, 18, 0)
    assert_same_study("dask", local_dbs[20], "dask", tmp_path / "d.db")
    # in other chunks than the local run's too (see the next test)
    assert_same_study("dask", local_dbs["default"], "dask", tmp_path / "d.db")


def test_chunk_sizes_change_no_bit(tmp_path, local_dbs):
    small().run(tmp_path / "d.db", max_memory=MAX_MEMORY)
    assert_same_study("dask", local_dbs["default"], "dask", tmp_path / "d.db")


def test_cli_against_dask_scheduler_and_workers_processes(tmp_path, cluster, local_dbs):
    from typer.testing import CliRunner

    from initlab.cli import app

    toml = tmp_path / "s.toml"
    toml.write_text(small().to_toml())
    db = tmp_path / "cli.db"
    args = [
        "study",
        "--config",
        str(toml),
        "--executor",
        "dask",
        "--scheduler",
        cluster,
        "--store",
        str(db),
        "--no-report",
    ]
    res = CliRunner().invoke(app, args, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "18 trained, 0 failed" in " ".join(res.output.split())
    assert_same_study("dask", local_dbs["default"], "dask", db, exact=False)  # other chunks
    again = CliRunner().invoke(app, args, catch_exceptions=False)  # resume: nothing to do
    assert again.exit_code == 0 and "18 already stored, 0 trained" in " ".join(again.output.split())


def test_execute_dask_yields_every_chunk_once_and_leaves_nothing_behind(cluster, client):
    data = _datasets.load("moons", n_samples=200, random_state=0)
    specs = plan((6,), ["tanh", "relu"], ["xavier", "he"], ["gd"], [0.5], range(3), epochs=20)
    chunk_list = chunks(specs, data, MAX_MEMORY)
    ticks = []
    results = list(
        idist.execute_dask(
            chunk_list, data, curves=True, scheduler=cluster, on_progress=ticks.append
        )
    )
    assert sorted(r.index for r in results) == [c.index for c in chunk_list]
    assert sum(ticks) == len(specs) * 20 and all(r.error is None for r in results)
    for r in results:  # every result belongs to its chunk
        assert r.specs == chunk_list[r.index].specs
        assert r.curves["train_loss"].shape == (21, len(r.specs))
    assert not _wait_for_no_tasks(client)  # nothing left behind on the cluster


def test_wide_layers_are_bit_identical_whatever_the_blas_threads(cluster, client):
    # digits' 64 x 32 products are large enough for a multi-threaded BLAS to round them
    # differently from the workers' single thread; run_chunk pins one thread everywhere
    from initlab.sweep import execute

    data = _datasets.load("digits")
    specs = plan((32,), ["tanh"], ["xavier"], ["adam"], [0.01], range(16), epochs=3)
    chunk_list = [Chunk(0, specs[:8]), Chunk(1, specs[8:])]  # 8 models: threaded BLAS sizes
    here = {r.index: r for r in execute(chunk_list, data)}
    there = {r.index: r for r in idist.execute_dask(chunk_list, data, client=client)}
    assert sorted(here) == sorted(there) == list(range(len(chunk_list))) and len(here) > 1
    for i, r in here.items():
        for key in ("train_loss", "val_loss"):
            np.testing.assert_array_equal(r.final[key], there[i].final[key])


# --- failures -------------------------------------------------------------------------------------
# A worker plugin that SIGKILLs its own worker process as it starts executing one given chunk
# (once in the whole cluster: the first worker to create the marker file dies).  Compiled
# into a namespace that is no importable module, so it travels to the workers by value.
_KILLER_SOURCE = """
import os, signal
from distributed import WorkerPlugin

class KillWhileExecuting(WorkerPlugin):
    name = "initlab-test-killer"

    def __init__(self, marker, chunk):
        self.marker, self.chunk = marker, chunk

    def transition(self, key, start, finish, **kwargs):
        if finish != "executing" or not str(key).endswith(f"-{self.chunk}"):
            return
        if "initlab-chunk" not in str(key):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_killed_worker_mid_study_loses_and_duplicates_nothing(tmp_path, client, local_dbs):
    namespace = {"__name__": "initlab_test_killer"}
    exec(_KILLER_SOURCE, namespace)
    marker = tmp_path / "killed"
    before = set(client.run(os.getpid).values())
    client.register_plugin(namespace["KillWhileExecuting"](str(marker), 4))  # 5th of 10 chunks
    seen = []
    try:
        report = small().run(
            tmp_path / "k.db",
            executor="dask",
            scheduler=client.scheduler.address,
            max_memory=MAX_MEMORY,
            progress=lambda done, total: seen.append(done),
        )
    finally:
        client.unregister_worker_plugin("initlab-test-killer")
    assert marker.exists(), "no worker was killed"
    client.wait_for_workers(2, timeout=120)  # the nanny has started a fresh process
    assert len(set(client.run(os.getpid).values()) - before) == 1
    assert len(seen) == 1 + 10 and seen[-1] == 18 * 20  # each of the 10 chunks reported once
    with Store(tmp_path / "k.db", readonly=True) as st:
        errors = set(st.runs("dask", status="failed").get("error", []))
    assert (report.trained, report.failed) == (18, 0), errors
    with Store(tmp_path / "k.db", readonly=True) as st:
        every = st.runs("dask", status=None)
    assert len(every) == 18 and every.run_hash.is_unique and set(every.status) == {"done"}
    assert_same_study("dask", local_dbs[20], "dask", tmp_path / "k.db")


def _wait_for_no_tasks(client, patience=60.0) -> list:
    """initlab's tasks still on the scheduler once they are gone, or after ``patience`` s."""
    deadline = time.monotonic() + patience
    while True:
        left = client.run_on_scheduler(
            lambda dask_scheduler: [str(k) for k in dask_scheduler.tasks if "initlab" in str(k)]
        )
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def test_ctrl_c_cancels_outstanding_work_and_rerun_resumes(tmp_path, client, local_dbs):
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 4:  # progress(0) first, then three chunks in
            raise KeyboardInterrupt

    db = tmp_path / "c.db"
    with pytest.raises(KeyboardInterrupt):
        small().run(
            db,
            executor="dask",
            scheduler=client.scheduler.address,
            max_memory=MAX_MEMORY,
            progress=progress,
        )
    assert not _wait_for_no_tasks(client), "tasks were left running on the cluster"
    written = calls[2] // 20  # model-epochs of the two chunks written before the interrupt
    assert 2 <= written <= 4
    with Store(db, readonly=True) as st:
        assert len(st.runs("dask", status=None)) == written
    report = small().run(
        db, executor="dask", scheduler=client.scheduler.address, max_memory=MAX_MEMORY
    )
    assert (report.skipped, report.trained, report.failed) == (written, 18 - written, 0)
    assert_same_study("dask", local_dbs[20], "dask", db)


def test_a_chunk_that_raises_fails_alone(cluster):
    data = _datasets.load("moons", n_samples=200, random_state=0)
    good = plan((6,), ["tanh"], ["xavier"], ["gd"], [0.5], range(4), epochs=5)
    # an unchecked spec (RunSpec() trusts its values): a TypeError inside the worker
    bad = RunSpec({**good[0].values(), "seed": "zero"})
    chunk_list = [Chunk(0, good[:2]), Chunk(1, [bad]), Chunk(2, good[2:])]
    results = {
        r.index: r for r in idist.execute_dask(chunk_list, data, scheduler=cluster, retries=0)
    }
    assert sorted(results) == [0, 1, 2]
    assert "TypeError" in results[1].error and "seed must be an integer" in results[1].error
    assert np.isnan(results[1].final["val_acc"]).all()
    assert results[0].error is None and results[2].error is None
    assert np.isfinite(results[0].final["val_acc"]).all()


# --- bad input ------------------------------------------------------------------------------------
def test_unreachable_scheduler_is_explained_and_nothing_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(idist, "DEFAULT_TIMEOUT", 2.0)
    address = f"tcp://127.0.0.1:{_free_port()}"  # nothing listens there
    db = tmp_path / "u.db"
    with pytest.raises(idist.SchedulerUnreachable, match="127.0.0.1") as info:
        small().run(db, executor="dask", scheduler=address)
    assert "within 2 s" in str(info.value) and "dask scheduler" in str(info.value)
    assert isinstance(info.value, ConnectionError)  # the CLI reports OSErrors cleanly
    assert not db.exists()


def _swap_initlab(client, worker, replacement: str):
    """On one worker, make ``import initlab`` fail (None) or find another version (a str)."""
    if replacement == "missing":
        fake = "None"
    else:
        fake = f"types.ModuleType('initlab'); sys.modules['initlab'].__version__ = {replacement!r}"
    code = (
        "import sys, types\n"
        "sys.modules['_initlab_saved'] = sys.modules.pop('initlab', None)\n"
        f"sys.modules['initlab'] = {fake}\n"
    )
    client.run(exec, code, {}, workers=[worker])


def _restore_initlab(client, worker):
    client.run(
        exec,
        "import sys\nsaved = sys.modules.pop('_initlab_saved')\n"
        "if saved is None: sys.modules.pop('initlab', None)\n"
        "else: sys.modules['initlab'] = saved\n",
        {},
        workers=[worker],
    )


@pytest.mark.parametrize("replacement", ["missing", "9.9.9"])
def test_workers_without_initlab_or_with_another_version_are_refused(tmp_path, client, replacement):
    worker = sorted(client.scheduler_info()["workers"])[0]
    _swap_initlab(client, worker, replacement)
    try:
        db = tmp_path / "v.db"
        with pytest.raises(idist.VersionMismatch) as info:
            small().run(db, executor="dask", scheduler=client.scheduler.address)
        message = str(info.value)
        assert worker in message and __version__ in message
        if replacement == "missing":
            assert "cannot import initlab" in message and "pip install" in message
        else:
            assert "9.9.9" in message and f"client runs initlab {__version__}" in message
        assert not db.exists()
    finally:
        _restore_initlab(client, worker)
    assert set(idist.check_workers(client).values()) == {__version__}


def test_bad_arguments_are_explained(tmp_path):
    with pytest.raises(ValueError, match="workers must be a positive integer.*got 0"):
        idist.connect(workers=0)
    with pytest.raises(ValueError, match="has no port"):
        idist.connect("tcp://127.0.0.1")
    with pytest.raises(ValueError, match="scheduler must be an address"):
        idist.connect(scheduler=8786)
    with pytest.raises(ValueError, match="retries must be a non-negative integer"):
        next(idist.execute_dask([], None, retries=-1))
    with pytest.raises(ValueError, match="unknown executor 'dsak'; did you mean 'dask'"):
        small().run(tmp_path / "x.db", executor="dsak")
    assert not (tmp_path / "x.db").exists()


def test_without_dask_the_error_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'initlab\[dask\]'"):
        idist.connect()


# --- scale and cluster faults ---------------------------------------------------------------------
def _initlab_tasks(client) -> list[str]:
    return client.run_on_scheduler(
        lambda dask_scheduler: [
            str(k) for k in dask_scheduler.tasks if str(k).startswith("initlab-chunk")
        ]
    )


def test_in_flight_chunks_are_bounded_and_released_once_consumed(cluster, client):
    data = _datasets.load("moons", n_samples=200, random_state=0)
    specs = plan((6,), ["tanh"], ["xavier", "he"], ["gd"], [0.5], range(6), epochs=5)
    chunk_list = [Chunk(i, [s]) for i, s in enumerate(specs)]  # 12 chunks
    held = []
    results = idist.execute_dask(chunk_list, data, client=client, max_in_flight=3)
    for r in results:
        held.append(len(_initlab_tasks(client)))
        time.sleep(0.05)  # a slow writer: the cluster must not run ahead of it
        assert r.error is None
    assert len(held) == 12
    assert max(held) <= 3, held  # never more than max_in_flight submitted and not consumed
    assert not _wait_for_no_tasks(client)
    with pytest.raises(ValueError, match="max_in_flight must be a positive integer"):
        next(idist.execute_dask(chunk_list, data, client=client, max_in_flight=0))


def test_results_arrive_on_the_callers_client_not_the_default_one(cluster, client):
    # With another client as the default (a notebook's own, say), execute_dask tracked its
    # futures on that client's event loop: results arrived late, or never (a study hung).
    # Here the default client's loop is kept busy until the study's chunks are all back.
    import threading

    data = _datasets.load("moons", n_samples=200, random_state=0)
    specs = plan((4,), ["tanh"], ["xavier", "he"], ["gd"], [0.5], range(2), epochs=3)
    chunk_list = [Chunk(i, [s]) for i, s in enumerate(specs)]
    with distributed.Client(cluster, timeout=30, set_as_default=False) as own:
        assert distributed.default_client() is client
        done, held = threading.Event(), {}

        def busy():  # runs on the default client's loop, blocking it
            held["released"] = done.wait(timeout=60)

        client.loop.add_callback(busy)
        try:
            results = list(idist.execute_dask(chunk_list, data, client=own))
        finally:
            done.set()
    assert sorted(r.index for r in results) == list(range(len(chunk_list)))
    assert all(r.error is None for r in results)
    time.sleep(0.2)  # let busy() return
    assert held.get("released") is True, "execute_dask waited for the default client's loop"


def _modified_checkout(tmp_path, marker) -> Path:
    """A copy of initlab with the same version but other code: its run_chunk leaves a mark."""
    root = tmp_path / "modified"
    shutil.copytree(Path(SRC) / "initlab", root / "initlab")
    sweep = root / "initlab" / "sweep.py"
    text = sweep.read_text().replace(
        "    with one_blas_thread():\n        return _run_chunk(",
        f"    open({str(marker)!r}, 'a').close()\n    with one_blas_thread():\n"
        "        return _run_chunk(",
    )
    assert "open(" in text
    sweep.write_text(text)
    return root


def _start_worker(address, pythonpath, workdir, name):
    log = open(workdir / f"{name}.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            *_dask_command(),
            "worker",
            address,
            "--nworkers",
            "1",
            "--nthreads",
            "1",
            *LOOPBACK_HTTP,
            "--host",
            "127.0.0.1",
            "--name",
            name,
            "--local-directory",
            str(workdir),
        ],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(pythonpath)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def _stop(proc, log=None):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if log is not None:
        log.close()


def _wait_for_worker(client, name, patience=120.0) -> str:
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        for address, info in client.scheduler_info()["workers"].items():
            if info.get("name") == name:
                return address
        time.sleep(0.2)
    raise AssertionError(f"worker {name} did not join")


def test_a_worker_with_other_code_of_the_same_version_is_refused_even_late(
    tmp_path, cluster, client, local_dbs
):
    marker = tmp_path / "ran-modified-code"
    checkout = _modified_checkout(tmp_path, marker)
    proc, log = _start_worker(cluster, checkout, tmp_path, "modified-early")
    try:
        early = _wait_for_worker(client, "modified-early")
        with pytest.raises(idist.VersionMismatch, match="other initlab") as info:
            small().run(tmp_path / "early.db", executor="dask", scheduler=cluster)
        assert early in str(info.value) and "source hash" in str(info.value)
        assert not (tmp_path / "early.db").exists()
    finally:
        _stop(proc, log)
    # a worker that joins once the study runs gets no work, and the user is told which
    late = {}

    def progress(done, total):
        if done and not late:  # after the first chunk: start the modified worker
            late["proc"], late["log"] = _start_worker(cluster, checkout, tmp_path, "modified-late")
            late["address"] = _wait_for_worker(client, "modified-late")
            time.sleep(2 * idist._POLL)  # the client's next look at the cluster

    db = tmp_path / "late.db"
    try:
        with pytest.warns(idist.ClusterWarning, match="other initlab") as caught:
            report = small(epochs=60).run(
                db, executor="dask", scheduler=cluster, max_memory=MAX_MEMORY, progress=progress
            )
    finally:
        if late:
            _stop(late["proc"], late["log"])
    assert any(late["address"] in str(w.message) for w in caught)
    assert "gets no initlab work" in str(caught[0].message)
    assert (report.trained, report.failed) == (18, 0)
    assert not marker.exists(), "a refused worker ran a chunk"


def test_a_worker_with_another_numpy_is_refused(client):
    worker = sorted(client.scheduler_info()["workers"])[0]
    code = "import numpy\nnumpy._initlab_saved = numpy.__version__\nnumpy.__version__ = '0.0.1'\n"
    client.run(exec, code, {}, workers=[worker])
    try:
        with pytest.raises(idist.VersionMismatch, match="NumPy 0.0.1") as info:
            idist.check_workers(client)
        assert worker in str(info.value)
    finally:
        client.run(
            exec, "import numpy\nnumpy.__version__ = numpy._initlab_saved\n", {}, workers=[worker]
        )
    assert idist.check_workers(client)
    assert idist.code_fingerprint()[1] == np.__version__


# A plugin that SIGKILLs its worker every time it starts one given chunk.
_ALWAYS_KILL_SOURCE = _KILLER_SOURCE.replace(
    """        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return
""",
    """        with open(self.marker, "a") as f:
            f.write("x")
""",
).replace("initlab-test-killer", "initlab-test-always-killer")


def test_repeated_worker_deaths_fail_the_chunk_with_its_cause(tmp_path):
    import dask

    namespace = {"__name__": "initlab_test_always_killer"}
    exec(_ALWAYS_KILL_SOURCE, namespace)
    marker = tmp_path / "deaths"
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with idist.connect(workers=2) as session:
            session.client.register_plugin(namespace["KillWhileExecuting"](str(marker), 2))
            report = small().run(
                tmp_path / "f.db",
                executor="dask",
                scheduler=session.address,
                max_memory=MAX_MEMORY,
            )
    assert len(marker.read_text()) == 2  # allowed-failures=1: two deaths, then failed
    # the chunk that kills its workers fails; so may a chunk queued on a dying worker
    assert report.failed >= 2 and report.trained + report.failed == 18 and not report.ok
    (reason,) = report.failures
    assert reason.startswith("KilledWorker: the worker running this chunk died 2 times")
    assert report.failure_lines() == [f"{report.failed} runs: {reason}"]
    with Store(tmp_path / "f.db", readonly=True) as st:
        assert st.failure_reasons("dask") == {reason: report.failed}
        assert len(st.runs("dask", status="done")) == report.trained


@pytest.fixture
def own_cluster(tmp_path):
    """A scheduler and one worker of this test's own (the test may kill them)."""
    env = {**os.environ, "PYTHONPATH": SRC}
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "own-scheduler.log", "w")  # noqa: SIM115
    scheduler = subprocess.Popen(
        [
            *_dask_command(),
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *LOOPBACK_HTTP,
        ],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    worker, wlog = _start_worker(address, SRC, tmp_path, "own")
    try:
        with distributed.Client(address, timeout=60) as c:
            c.wait_for_workers(1, timeout=120)
        yield {"address": address, "scheduler": scheduler, "worker": worker}
    finally:
        _stop(worker, wlog)
        _stop(scheduler, log)


def test_scheduler_loss_stops_stores_nothing_as_failed_and_exits_non_zero(
    tmp_path, own_cluster, local_dbs
):
    # long chunks: the kill lands mid-study
    toml = tmp_path / "slow.toml"
    toml.write_text(small(epochs=3000, seeds=6).to_toml())
    db = tmp_path / "lost.db"
    cmd = [
        sys.executable,
        "-m",
        "initlab.cli",
        "study",
        "--config",
        str(toml),
        "--executor",
        "dask",
        "--scheduler",
        own_cluster["address"],
        "--store",
        str(db),
        "--no-report",
    ]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with Store(db, readonly=True) as st:
                    if st.study_names() and len(st.runs("dask", status=None)) > 0:
                        break
            except StoreError:  # the file is being created
                pass
        time.sleep(0.1)
    os.killpg(own_cluster["scheduler"].pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode not in (0, None), out + err
    text = " ".join(err.split())
    assert "lost the connection to the Dask scheduler" in text and "rerun" in text, err
    assert "initlab/" not in err.split("error:")[0]  # no traceback through initlab's code
    with Store(db, readonly=True) as st:
        every = st.runs("dask", status=None)
        assert 0 < len(every) < 36 and set(every.status) == {"done"}


def test_no_workers_for_too_long_is_explained(tmp_path, own_cluster):
    def progress(done, total):
        if done:  # the first chunk is stored: the only worker (and its nanny) goes away
            _stop(own_cluster["worker"])

    db = tmp_path / "alone.db"
    with pytest.raises(idist.NoWorkers, match="for [0-9]+ s") as info:
        small(epochs=200).run(
            db,
            executor="dask",
            scheduler=own_cluster["address"],
            max_memory=MAX_MEMORY,
            progress=progress,
            no_workers_timeout=3,
        )
    assert "dask worker" in str(info.value) and "stored" in str(info.value)
    with Store(db, readonly=True) as st:
        every = st.runs("dask", status=None)
        assert len(every) >= 2 and set(every.status) == {"done"}
    # waiting for workers instead: a worker that comes later finishes the study
    joiner = {}

    def late_worker():
        time.sleep(3)
        joiner["proc"], joiner["log"] = _start_worker(own_cluster["address"], SRC, tmp_path, "w2")

    import threading

    thread = threading.Thread(target=late_worker)
    thread.start()
    try:
        with pytest.warns(idist.ClusterWarning, match="waiting for 1 as long as it takes"):
            report = small(epochs=200).run(
                db,
                executor="dask",
                scheduler=own_cluster["address"],
                max_memory=MAX_MEMORY,
                no_workers_timeout=math.inf,
            )
    finally:
        thread.join()
        _stop(joiner["proc"], joiner["log"])
    assert report.skipped + report.trained == 18 and report.failed == 0


def test_a_clusters_processes_listen_on_loopback_only(own_cluster):
    import psutil

    listening = []
    for name in ("scheduler", "worker"):
        top = psutil.Process(own_cluster[name].pid)
        for proc in [top, *top.children(recursive=True)]:
            listening += [
                (name, c.laddr.ip, c.laddr.port)
                for c in proc.net_connections(kind="tcp")
                if c.status == psutil.CONN_LISTEN
            ]
    assert {name for name, _, _ in listening} == {"scheduler", "worker"}
    assert all(ip == "127.0.0.1" for _, ip, _ in listening), listening
