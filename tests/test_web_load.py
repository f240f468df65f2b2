"""Load on loopback: several sessions train at once, the server answers and holds its limits.

A real uvicorn server in a thread; each session streams in its own thread
with its own HTTP client while the main thread keeps asking for
``/api/health``.  Nothing here asserts on timing: the measured frame rates
and latencies are printed (``pytest -s``) for the record.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("starlette")
httpx = pytest.importorskip("httpx")

from initlab.web.app import create_app  # noqa: E402
from initlab.web.config import Limits  # noqa: E402

N_SESSIONS = 4
FRAMES = 12
LIMITS = Limits(max_sessions=N_SESSIONS, max_fps=20, idle_timeout=120)


@pytest.fixture(scope="module")
def base_url():
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(create_app(LIMITS), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def _config(i: int) -> dict:
    # different work per session: data sets, depths, a compare grid
    if i == 0:
        return {
            "mode": "compare",
            "dataset": "blog",
            "hidden": [2],
            "optimizer": "gd",
            "learning_rate": 1.0,
            "rows": {"axis": "activation", "values": ["sigmoid", "tanh", "relu", "leaky_relu"]},
            "cols": {"axis": "init", "values": ["zeros", "random", "xavier", "he"]},
        }
    return {
        "dataset": ["moons", "spiral", "circles"][i % 3],
        "hidden": [8] * i,
        "activation": ["tanh", "relu", "leaky_relu"][i % 3],
        "n_samples": 400,
        "seed": i,
    }


def _stream(base, sid, out, start):
    frames = []
    with httpx.Client(base_url=base, timeout=30) as client:
        start.wait()
        t0 = time.perf_counter()
        with client.stream("GET", f"/api/sessions/{sid}/stream?max_frames={FRAMES}") as r:
            event = None
            for line in r.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    data = json.loads(line[6:])
                    if event == "frame":
                        frames.append((time.perf_counter(), data["epoch"], data["from_epoch"]))
                    else:
                        out["end"] = data
        out["frames"] = frames
        out["seconds"] = time.perf_counter() - t0


def test_concurrent_sessions_stay_responsive_and_bounded(base_url):
    with httpx.Client(base_url=base_url, timeout=30) as client:
        ids = []
        for i in range(N_SESSIONS):
            r = client.post("/api/sessions", json=_config(i))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

        # the limit on sessions holds while they are all alive
        r = client.post("/api/sessions", json=_config(1))
        assert r.status_code == 503
        assert f"allows {N_SESSIONS}" in r.json()["error"]

        start = threading.Event()
        results = [{} for _ in ids]
        threads = [
            threading.Thread(target=_stream, args=(base_url, sid, out, start))
            for sid, out in zip(ids, results, strict=True)
        ]
        for t in threads:
            t.start()
        start.set()

        # the server keeps answering while all sessions train
        latencies = []
        while any(t.is_alive() for t in threads):
            t0 = time.perf_counter()
            r = client.get("/api/health", timeout=10)
            latencies.append(time.perf_counter() - t0)
            assert r.status_code == 200 and r.json()["sessions"] == N_SESSIONS
            # limits are enforced under load too
            bad = client.post(f"/api/sessions/{ids[1]}/step", json={"epochs": 10_000})
            assert bad.status_code == 422 and "per step" in bad.json()["error"]
            time.sleep(0.05)
        for t in threads:
            t.join(timeout=60)

        assert len(latencies) >= 3
        for out in results:
            frames = out["frames"]
            assert len(frames) == FRAMES
            epochs = [e for _, e, _ in frames]
            assert epochs == sorted(set(epochs))  # in order, none repeated
            assert [f for _, _, f in frames] == [1] + [e + 1 for e in epochs[:-1]]  # none lost
            assert out["end"]["reason"] == "max_frames"
        # the streams ran at the same time, not one after another
        first = max(out["frames"][0][0] for out in results)
        last = min(out["frames"][-1][0] for out in results)
        assert first < last

        fps = [FRAMES / out["seconds"] for out in results]
        epochs = [out["frames"][-1][1] for out in results]
        print(
            f"\n{N_SESSIONS} concurrent sessions: {', '.join(f'{f:.1f}' for f in fps)} frames/s, "
            f"{epochs} epochs in {FRAMES} frames; /api/health median "
            f"{1000 * sorted(latencies)[len(latencies) // 2]:.1f} ms, "
            f"max {1000 * max(latencies):.1f} ms over {len(latencies)} requests"
        )

        # a session ended makes room for a new one
        assert client.delete(f"/api/sessions/{ids[0]}").status_code == 204
        r = client.post("/api/sessions", json=_config(2))
        assert r.status_code == 201
