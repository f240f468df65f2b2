"""End to end in headless Chromium: the page trains, redraws and compares; the network
view, curriculum controls, lessons and the page-side defects (divergence shown, a Play
click after a change kept, bad URL parameters, the error banner, new seeds on a seed axis).

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
    from initlab.web.config import Limits

    app = create_app(Limits(max_sessions=64))  # many pages, each keeps its session
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
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


# ------------------------------------------------------------------------------ helpers
def _open(browser, server_url, query="", errors=None):
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    if errors is not None:
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server_url + query)
    page.wait_for_function("document.body.dataset.session", timeout=15000)
    return page


def _session(page):
    return page.evaluate("document.body.dataset.session")


def _new_session(page, old):
    page.wait_for_function(
        f"document.body.dataset.session && document.body.dataset.session !== {old!r}",
        timeout=15000,
    )


def _epoch(page):
    return int(page.inner_text("#epoch"))


def _play_until(page, epoch, timeout=30000):
    page.click("#play")
    page.wait_for_function(
        f"Number(document.getElementById('epoch').textContent) >= {epoch}", timeout=timeout
    )
    page.click("#play")
    page.wait_for_function("document.getElementById('play').getAttribute('aria-label') === 'play'")


def _canvas_point(page, selector, x, y):
    """Page coordinates of canvas pixel (x, y) (the canvas may be scaled by CSS)."""
    box = page.locator(selector).bounding_box()
    w, h = page.eval_on_selector(selector, "c => [c.width, c.height]")
    return box["x"] + x * box["width"] / w, box["y"] + y * box["height"] / h


# ------------------------------------------------------------------------------ network view
def test_network_view_draws_units_and_edits_a_weight(server_url, browser):
    errors = []
    page = _open(browser, server_url, "?hidden=4&dataset=moons&epochs=200", errors)
    page.click("#step")
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    geo = page.evaluate("({units: state.net.units.length, links: state.net.links.length})")
    assert geo == {"units": 2 + 4 + 2, "links": 2 * 4 + 4 * 2}
    assert len(set(_canvas_pixels(page, "#network"))) > 10  # unit pictures and links drawn

    # hover a hidden unit: its picture enlarged, with what it is
    u = page.evaluate("state.net.units.find(u => u.layer === 1)")
    s = page.evaluate("state.net.S")
    page.mouse.move(*_canvas_point(page, "#network", u["x"] + s / 2, u["y"] + s / 2))
    page.wait_for_selector("#net-tip:not([hidden])")
    assert "hidden 1, unit 1" in page.inner_text("#net-tip-text")
    assert len(set(_canvas_pixels(page, "#unit-zoom"))) > 3

    # click a link, set its weight: the next frame shows it
    link = page.evaluate("state.net.links.find(l => l.layer === 1 && l.from === 1 && l.to === 2)")
    mx, my = (link["x1"] + link["x2"]) / 2, (link["y1"] + link["y2"]) / 2
    page.mouse.click(*_canvas_point(page, "#network", mx, my))
    page.wait_for_selector("#weight-editor:not([hidden])")
    assert page.inner_text("#weight-label") == "W1[1→2]"
    before = page.inner_text("#train-loss")
    page.fill("#weight-value", "3.5")
    page.click("#weight-editor button[type=submit]")
    page.wait_for_function("state.lastFrame.diagram.layers[1].weights[1][2] === 3.5")
    assert page.inner_text("#train-loss") != before
    assert _epoch(page) == 1  # same run, same epoch
    page.close()
    assert errors == []


def test_statistics_are_recorded_every_epoch(server_url, browser):
    page = _open(browser, server_url, "?hidden=6,6&epochs=300&speed=0")
    _play_until(page, 80)
    epoch = _epoch(page)
    # layer 1's gradient RMS: kind 3 (gradients), entry 5 (the RMS after 5 quantiles)
    counts = page.evaluate(
        "[state.stats.length, state.stats.filter(s => s).length, "
        "new Set(statSeries(0, 3, 5)).size, statSeries(0, 3, 5).filter(v => v === null).length]"
    )
    # one record per epoch 0..epoch, none missing, none repeated (no forward-filled steps)
    assert counts == [epoch + 1, epoch + 1, epoch + 1, 0]
    assert page.locator("#bands canvas").count() == 3
    band0 = _canvas_pixels(page, "#bands canvas")
    page.select_option("#stat-kind", "3")
    assert _canvas_pixels(page, "#bands canvas") != band0
    page.close()


# ------------------------------------------------------------------------------ curriculum
def test_regression_features_discretize_and_regenerate(server_url, browser):
    errors = []
    page = _open(browser, server_url, "", errors)
    first = _session(page)
    page.select_option("#problem", "regression")
    _new_session(page, first)
    assert page.evaluate("document.body.dataset.task") == "regression"
    assert page.input_value("#dataset") in ("plane", "multigauss")
    assert page.input_value("#loss") == "squared_error"
    assert page.inner_text("#boundary-title") == "Predicted value"
    assert page.locator("#acc-card").is_hidden()
    _play_until(page, 20)
    smooth = _canvas_pixels(page, "#boundary")
    page.check("#discretize")
    page.wait_for_function("document.getElementById('discretize').checked")
    hard = _canvas_pixels(page, "#boundary")  # redrawn by the change handler
    assert hard != smooth and "discretize=1" in page.url

    # engineered features: a new run whose network has their inputs
    second = _session(page)
    page.check("#features input[value='x1^2']")
    _new_session(page, second)
    assert page.evaluate("state.session.features") == ["x1", "x2", "x1^2"]
    assert page.evaluate("state.session.layer_sizes[0]") == 3
    assert "features=x1%2Cx2%2Cx1%5E2" in page.url
    assert "data changed: restarted at epoch 0" in page.inner_text("#note-text")

    # regenerate: a new data seed, new points
    third = _session(page)
    points = page.evaluate("state.session.train.x[0]")
    page.click("#regenerate")
    _new_session(page, third)
    assert page.evaluate("state.session.train.x[0]") != points
    assert page.input_value("#data_seed") != "0"
    assert "data regenerated" in page.inner_text("#note-text")

    # L1 / L2 rates reach the run (changed live, or in a new run: the server decides)
    page.evaluate("document.getElementById('note-text').textContent = ''")
    page.fill("#l2", "0.05")
    page.dispatch_event("#l2", "change")
    page.wait_for_function(
        "/l2 changed live|regularization changed/.test(document.getElementById('note-text')"
        ".textContent)"
    )
    l2 = page.evaluate(
        "fetch('/api/sessions/' + document.body.dataset.session).then(r => r.json())"
        ".then(d => d.config.l2)"
    )
    assert l2 == 0.05 and "l2=0.05" in page.url
    page.close()
    assert errors == []


def test_lesson_opens_with_its_text_and_hides_controls(server_url, browser):
    page = _open(browser, server_url, "?lesson=zero-symmetry&hide=seed,features")
    assert page.locator("#lesson").is_visible()
    assert "symmetry" in page.inner_text("#lesson-title").lower()
    assert page.input_value("#init") == "zeros"
    for hidden in ("#optimizer", "#batch_size", "#seed"):
        assert not page.locator(hidden).is_visible(), hidden
    assert not page.locator("#features-row").is_visible()
    assert page.locator("#init").is_visible() and page.locator("#learning_rate").is_visible()
    assert "lesson=zero-symmetry" in page.url and "hide=seed%2Cfeatures" in page.url
    _play_until(page, 30)
    # zero weights: every hidden unit draws the same picture, the accuracy stays at chance
    same = page.evaluate(
        "(() => { const l = state.lastFrame.diagram.layers[1];"
        " return new Set(atob(l.pictures)).size; })()"
    )
    assert same == 1
    page.close()


# ------------------------------------------------------------------------------ defects
def test_divergence_pauses_greys_and_names_the_layer(server_url, browser):
    page = _open(browser, server_url, "?lesson=learning-rate-divergence")
    page.click("#play")
    page.wait_for_selector("#diverged-note:not([hidden])", timeout=15000)
    page.wait_for_function("document.getElementById('play').getAttribute('aria-label') === 'play'")
    assert "diverged at epoch" in page.inner_text("#note-text")
    assert page.eval_on_selector("#boundary", "c => c.classList.contains('greyed')")
    assert page.inner_text("#val-acc") == "diverged"  # never a healthy "49.9%"
    assert "first non-finite in layer 1" in page.inner_text("#diverged-note")
    # the picture shown is a finite one, not the uniform grey of NaN outputs
    assert len(set(_canvas_pixels(page, "#boundary"))) > 5
    page.click("#reset")
    page.wait_for_selector("#diverged-note", state="hidden")
    assert not page.eval_on_selector("#boundary", "c => c.classList.contains('greyed')")
    page.close()


def test_nonfinite_units_are_drawn_red(server_url, browser):
    page = _open(browser, server_url, "?hidden=4")
    red = (
        "u => { const c = document.getElementById('network').getContext('2d');"
        " const d = c.getImageData(u.x + u.s / 4, u.y + u.s / 5, 1, 1).data;"
        " return d[0] > 200 && d[1] < 80 && d[2] < 80; }"
    )
    unit = page.evaluate(
        "({...state.net.units.find(u => u.layer === 1 && u.unit === 2), s: state.net.S})"
    )
    assert not page.evaluate(f"({red})({{x: {unit['x']}, y: {unit['y']}, s: {unit['s']}}})")
    page.evaluate("state.lastFrame.diagram.layers[1].nan[2] = true; drawNetwork()")
    assert page.evaluate(f"({red})({{x: {unit['x']}, y: {unit['y']}, s: {unit['s']}}})")
    assert page.evaluate("state.net.units.find(u => u.layer === 1 && u.unit === 2).nan")
    page.close()


def test_play_right_after_a_change_is_not_lost(server_url, browser):
    page = _open(browser, server_url, "?hidden=4&epochs=400&speed=0")
    first = _session(page)
    page.evaluate(
        "window.seen = []; new MutationObserver(() => window.seen.push("
        "[document.body.dataset.session, Number(document.getElementById('epoch').textContent)]))"
        ".observe(document.getElementById('epoch'),"
        " {childList: true, characterData: true, subtree: true})"
    )
    page.fill("#hidden", "5")
    page.dispatch_event("#hidden", "change")
    page.click("#play")  # well within the 250 ms the change waits
    page.wait_for_function(
        "Number(document.getElementById('epoch').textContent) >= 40", timeout=30000
    )
    page.click("#play")
    new = _session(page)
    assert new != first and page.evaluate("state.session.layer_sizes") == [2, 5, 2]
    log = page.evaluate("window.seen")
    seen = [e for sid, e in log if sid == new]
    assert seen and seen == sorted(seen)  # trained on from 0, never thrown back to 0
    # the click played the new configuration: the old one never trained
    assert all(e == 0 for sid, e in log if sid == first)
    assert "architecture changed: restarted at epoch 0" in page.inner_text("#note-text")
    page.close()


def test_live_fields_patch_the_running_session(server_url, browser):
    """The page side of live changes: a field the server lists as live is PATCHed,
    the session (and its epoch) kept; other fields restart."""
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    patches = []

    def options(route):
        response = route.fetch()
        body = response.json()
        body.setdefault("live", ["learning_rate", "epochs", "l1", "l2"])
        route.fulfill(response=response, json=body)

    def patch(route):
        if route.request.method == "PATCH":
            patches.append(route.request.post_data_json)
        route.fallback()

    page.route("**/api/options", options)
    page.route("**/api/sessions/*", patch)
    page.goto(server_url + "?hidden=4&epochs=300")
    page.wait_for_function("document.body.dataset.session", timeout=15000)
    page.click("#step")
    page.wait_for_function("document.getElementById('epoch').textContent === '1'")
    sid = _session(page)
    page.fill("#learning_rate", "0.05")
    page.dispatch_event("#learning_rate", "change")
    page.wait_for_function("document.getElementById('note-text').textContent.length > 0")
    assert patches == [{"learning_rate": 0.05}]
    if "changed live" in page.inner_text("#note-text"):  # a server with live changes
        assert _session(page) == sid and _epoch(page) == 1
    else:  # a server without them: the page restarts instead, and says so
        assert "restarted at epoch 0" in page.inner_text("#note-text")
    page.close()


def test_bad_url_parameters_fall_back_with_a_note(server_url, browser):
    errors = []
    page = _open(
        browser, server_url, "?noise=abc&activation=foo&dataset=nope&speed=7&lesson=nope", errors
    )
    note = page.inner_text("#note-text")
    for word in ("noise", "activation", "dataset", "speed", "lesson"):
        assert word in note, (word, note)
    assert page.input_value("#activation") == "tanh" and page.input_value("#dataset") == "moons"
    assert page.locator("#boundary").is_visible()
    assert "activation=tanh" in page.url  # the URL now holds what runs
    page.close()
    assert [e for e in errors if "status of 422" not in e] == []


def test_error_banner_stays_in_view(server_url, browser):
    page = _open(browser, server_url)
    page.mouse.wheel(0, 2000)
    page.wait_for_function("window.scrollY > 300")
    page.fill("#l2", "-1")
    page.dispatch_event("#l2", "change")
    page.wait_for_selector("#error:not([hidden])")
    box = page.locator("#error").bounding_box()
    assert 0 <= box["y"] < 1100 and "l2" in page.inner_text("#error-text")
    assert (
        page.eval_on_selector("#error", "e => getComputedStyle(e.parentElement).position")
        == "fixed"
    )
    page.close()


def test_compare_seeds_band_panel_click_and_new_seed(server_url, browser):
    page = _open(
        browser,
        server_url,
        "?mode=compare&hidden=4&epochs=100&rows=init:xavier_normal,he_normal&cols=seed:0,1,2",
    )
    page.wait_for_function("document.body.dataset.mode === 'compare'")
    _play_until(page, 15)
    assert "mean over the 3 seeds" in page.inner_text("#compare-chart-note")
    # new seed with seed as an axis: every seed shifts by the same amount
    first = _session(page)
    page.click("#reseed")
    _new_session(page, first)
    seeds = [int(v) for v in page.input_value("#cols-values").split(",")]
    assert seeds != [0, 1, 2] and seeds[1] - seeds[0] == 1 and seeds[2] - seeds[1] == 1
    assert page.evaluate("state.session.cols.values") == seeds
    # click a panel: it opens as a single network with that panel's settings
    second = _session(page)
    page.click("#compare-grid .panel[data-model='4']")  # row he_normal, column seeds[1]
    _new_session(page, second)
    page.wait_for_function("document.body.dataset.mode === 'single'")
    assert page.input_value("#init") == "he_normal"
    assert page.input_value("#seed") == str(seeds[1])
    page.close()


def test_speed_control_reaches_the_stream(server_url, browser):
    page = _open(browser, server_url, "?hidden=4&speed=5")
    assert page.input_value("#speed") == "5"
    with page.expect_request("**/stream?speed=5") as req:
        page.click("#play")
    assert "speed=5" in req.value.url
    page.click("#play")
    page.close()


def test_a_paused_page_keeps_its_session_and_replaces_an_expired_one(browser):
    import uvicorn

    from initlab.web.app import create_app
    from initlab.web.config import Limits, parse_config
    from initlab.web.session import Session

    Session(parse_config({"hidden": [4]})).advance(1)  # compiled: creating takes << 4 s
    app = create_app(Limits(idle_timeout=4))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}/"
    try:
        errors = []
        page = _open(browser, url, "?hidden=4", errors)
        sid = _session(page)
        page.wait_for_timeout(9000)  # twice the idle timeout, paused
        assert sid in app.state.store and _session(page) == sid
        page.click("#step")
        page.wait_for_function("document.getElementById('epoch').textContent === '1'")
        # the server drops the session (as after a long sleep): the page starts a new one
        app.state.store.delete(sid)
        _new_session(page, sid)
        assert "expired" in page.inner_text("#note-text")
        page.close()
        # a server without the heartbeat route answers 404 once; the page then uses GET
        assert len([e for e in errors if "404" in e]) <= 2
    finally:
        server.should_exit = True
        thread.join(timeout=10)
