"""End to end in headless Chromium: the page trains, redraws and compares.

Needs Debian's ``/usr/bin/chromium`` and Playwright for Python (never
``playwright install``); skipped cleanly without them.
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("INITLAB_CHROMIUM", "/usr/bin/chromium")


def _needs():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"headless Chromium not found at {CHROMIUM} (apt-get install chromium)")
    for module in ("playwright.sync_api", "uvicorn", "starlette"):
        pytest.importorskip(module, reason=f"{module} is not installed")


@pytest.fixture(scope="module")
def server_url():
    _needs()
    import uvicorn

    from initlab.web.app import create_app

    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the playground server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    _needs()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def _canvas_pixels(page, selector):
    return page.eval_on_selector(
        selector,
        "c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data"
        ".filter((_, i) => i % 4 === 0 && (i / 4) % 7 === 0))",
    )


def _wait_for_pixels(page, selector, expected, timeout=15.0):
    """The canvas's pixels once they equal ``expected`` (the page redraws asynchronously)."""
    import time

    deadline = time.monotonic() + timeout
    pixels = _canvas_pixels(page, selector)
    while pixels != expected and time.monotonic() < deadline:
        page.wait_for_timeout(100)
        pixels = _canvas_pixels(page, selector)
    return pixels


def _percent(text):
    return float(text.rstrip("%")) / 100


def test_train_tanh_xavier_on_moons_then_compare(server_url, browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server_url)
    page.wait_for_function("document.body.dataset.session", timeout=15000)

    # pick tanh + xavier on moons (a slow learning rate so there is something to watch)
    first = page.evaluate("document.body.dataset.session")
    page.select_option("#dataset", "moons")
    page.select_option("#activation", "tanh")
    page.select_option("#init", "xavier_normal")
    page.fill("#learning_rate", "0.003")
    page.dispatch_event("#learning_rate", "change")
    page.fill("#hidden", "6")
    page.dispatch_event("#hidden", "change")
    page.wait_for_function(
        f"document.body.dataset.session && document.body.dataset.session !== {first!r}",
        timeout=15000,
    )
    assert "activation=tanh" in page.url and "init=xavier_normal" in page.url
    assert page.inner_text("#epoch") == "0"
    acc0 = _percent(page.inner_text("#val-acc"))
    pixels0 = _canvas_pixels(page, "#boundary")

    # one step redraws the boundary
    page.click("#step")
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    pixels1 = _canvas_pixels(page, "#boundary")
    assert pixels1 != pixels0

    # play, let it train, pause
    page.click("#play")
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent) >= 120", timeout=30000
    )
    page.click("#play")
    page.wait_for_function("document.getElementById('play').getAttribute('aria-label') === 'play'")
    epoch = int(page.inner_text("#epoch"))
    acc = _percent(page.inner_text("#val-acc"))
    assert acc > acc0 + 0.05 and acc > 0.8, (acc0, acc)
    pixels2 = _canvas_pixels(page, "#boundary")
    assert pixels2 != pixels1
    assert page.locator("#layers tr").count() == 3  # header, hidden layer, output
    assert page.locator("#sparks canvas").count() == 2 * 6 + 6 + 6 * 2 + 2  # 32 parameters

    # reset: back to epoch 0 and the very same picture
    page.click("#reset")
    page.wait_for_function("document.getElementById('epoch').textContent === '0'")
    assert _wait_for_pixels(page, "#boundary", pixels0) == pixels0
    assert epoch >= 120

    # a bad value is refused by the server and shown
    page.fill("#hidden", "8, 500")
    page.dispatch_event("#hidden", "change")
    page.wait_for_selector("#error:not([hidden])")
    assert "server limit" in page.inner_text("#error")
    page.fill("#hidden", "6")
    page.dispatch_event("#hidden", "change")
    page.wait_for_selector("#error", state="hidden")

    # compare mode: the blog's 4 x 4 grid, trained live
    page.click("#mode-compare")
    page.wait_for_function("document.body.dataset.mode === 'compare'", timeout=15000)
    assert page.locator("#compare-grid .panel").count() == 16
    assert page.locator("#compare-grid .row-head").all_inner_texts() == [
        "sigmoid",
        "tanh",
        "relu",
        "leaky_relu",
    ]
    page.click("#play")
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent) >= 10", timeout=30000
    )
    page.click("#play")
    accs = page.locator("#compare-grid .acc").all_inner_texts()
    assert len(accs) == 16 and all(a.startswith("val ") or a == "diverged" for a in accs)
    assert "mode=compare" in page.url

    # export: TOML and Python of the grid
    page.click("#export")
    page.wait_for_selector("#export-dialog[open]")
    toml = page.inner_text("#export-toml")
    assert 'activations = ["sigmoid", "tanh", "relu", "leaky_relu"]' in toml
    assert "initlab.FFNetwork(" in page.inner_text("#export-python")
    page.click("#export-dialog button[value=close]")

    # the URL restores the state in a fresh page
    other = browser.new_page()
    other.on("pageerror", lambda e: errors.append(str(e)))
    other.goto(page.url)
    other.wait_for_function("document.body.dataset.mode === 'compare'", timeout=15000)
    assert other.locator("#compare-grid .panel").count() == 16
    assert other.input_value("#learning_rate") == "0.003"
    other.close()
    page.close()
    # the one refused configuration above shows as a failed request; nothing else may fail
    refused = [e for e in errors if "status of 422" in e]
    assert len(refused) == 1
    assert [e for e in errors if e not in refused] == []
