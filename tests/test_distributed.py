"""Studies on a Dask cluster (all on loopback): equal to local runs, robust, clear errors.

One cluster of real processes -- ``dask scheduler`` and ``dask worker --nworkers 2``
started from the command line -- serves most tests; one test lets ``Study.run``
start its own ``LocalCluster``.
"""

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
from initlab.store import Store  # noqa: E402
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
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
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
                    "--no-dashboard",
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
