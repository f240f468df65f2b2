"""The playground's speed: frames the server can produce, frames the page can draw, and
how soon the first picture appears.

For the default single network (the page's opening configuration: moons, 500
points, [8, 8] tanh, Xavier, Adam), measured here:

* **server frames/s**: one epoch (``Session.advance(1)``, which records the
  per-epoch statistics) plus one full frame (``Session.frame()``: the boundary,
  layer statistics, quantiles and the network view) serialized to JSON, as the
  stream does at the maximum speed; medians over ``--frames`` frames.  The
  network view's share is timed on its own (``netview.diagram``), and so is a
  frame without it, the peer in the same run.
* **page frames/s** (headless Debian Chromium, Playwright): ``applyFrame`` of a
  real frame, which decodes it and redraws every view of the single-network page.
* **first picture**: a warm server (one page load first), then the time from a
  new page's navigation start to the first boundary drawn (the page's
  ``first-picture`` performance mark), median of ``--loads`` loads.

Targets: >= 30 frames/s at the maximum speed (server and page), first picture
< 1 s.  Writes ``benchmarks/results/playground.json`` with the CPU's SIMD level.

Usage: python benchmarks/playground.py [--frames 300] [--loads 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import _simd_level, machine_info  # noqa: E402

from initlab.web import netview  # noqa: E402
from initlab.web.config import parse_config  # noqa: E402
from initlab.web.session import Session  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
TARGET_FPS = 30.0
TARGET_FIRST_PICTURE_S = 1.0


def server_frames(n: int) -> dict:
    session = Session(parse_config({"epochs": 5000}))
    session.advance(5)  # warm: compiled kernels, caches
    session.frame()
    epoch, frame, diagram, total, sizes = [], [], [], [], []
    grp = session.groups[0]
    for _ in range(n):
        t0 = time.perf_counter()
        session.advance(1)
        t1 = time.perf_counter()
        text = json.dumps(session.frame(), separators=(",", ":"))
        t2 = time.perf_counter()
        tr = session._trace or {}
        netview.diagram(
            grp.population, grp.trainer.params, session.unit_grid,
            tr.get("dW"), tr.get("delta"), 16,
        )  # fmt: skip
        t3 = time.perf_counter()
        epoch.append(t1 - t0)
        frame.append(t2 - t1)
        diagram.append(t3 - t2)
        total.append(t2 - t0)
        sizes.append(len(text))
    med = statistics.median
    return {
        "epoch_ms": 1e3 * med(epoch),
        "frame_ms": 1e3 * med(frame),
        "diagram_ms": 1e3 * med(diagram),
        "frame_without_diagram_ms": 1e3 * (med(frame) - med(diagram)),
        "epoch_plus_frame_ms": 1e3 * med(total),
        "frames_per_s": 1.0 / med(total),
        "frame_bytes": int(med(sizes)),
        "frames": n,
    }


def _server():
    import uvicorn

    from initlab.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, server.servers[0].sockets[0].getsockname()[1]


def page_timings(loads: int, draws: int) -> dict:
    from playwright.sync_api import sync_playwright

    server, thread, port = _server()
    url = f"http://127.0.0.1:{port}/"
    firsts = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
            )
            warm = browser.new_page()
            warm.goto(url)
            warm.wait_for_function("document.body.dataset.session", timeout=20000)
            warm.close()
            for _ in range(loads):
                page = browser.new_page(viewport={"width": 1400, "height": 1100})
                page.goto(url)
                page.wait_for_function(
                    "performance.getEntriesByName('first-picture').length", timeout=20000
                )
                firsts.append(
                    page.evaluate("performance.getEntriesByName('first-picture')[0].startTime")
                    / 1e3
                )
                page.close(run_before_unload=True)
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.goto(url)
            page.wait_for_function("document.body.dataset.session", timeout=20000)
            page.click("#step")
            page.wait_for_function("document.getElementById('epoch').textContent === '1'")
            per_draw = page.evaluate(
                f"""() => {{
                    const f = state.lastFrame, t = performance.now();
                    for (let i = 0; i < {draws}; i++) applyFrame(f, state.generation);
                    return (performance.now() - t) / {draws};  // the clock is coarse
                }}"""
            )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {
        "first_picture_s": statistics.median(firsts),
        "first_picture_all_s": firsts,
        "page_draw_ms": per_draw,
        "page_frames_per_s": 1e3 / per_draw,
        "loads": loads,
        "draws": draws,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--loads", type=int, default=5)
    parser.add_argument("--draws", type=int, default=100)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "playground.json"))
    args = parser.parse_args()
    machine = machine_info()
    result = {
        "machine": machine,
        "simd_level": _simd_level(machine.get("simd", {})),
        "config": "moons, 500 points, [8, 8] tanh, xavier_normal, adam (the page's opening)",
        "server": server_frames(args.frames),
        "page": page_timings(args.loads, args.draws),
    }
    s, p = result["server"], result["page"]
    result["targets"] = {
        "server_frames_per_s": [s["frames_per_s"], TARGET_FPS, s["frames_per_s"] >= TARGET_FPS],
        "page_frames_per_s": [p["page_frames_per_s"], TARGET_FPS,
                              p["page_frames_per_s"] >= TARGET_FPS],
        "first_picture_s": [p["first_picture_s"], TARGET_FIRST_PICTURE_S,
                            p["first_picture_s"] < TARGET_FIRST_PICTURE_S],
    }  # fmt: skip
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: result[k] for k in ("simd_level", "server", "page", "targets")}, indent=2))


if __name__ == "__main__":
    main()
