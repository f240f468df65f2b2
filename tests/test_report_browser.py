"""The report in headless Chromium: every preset's page loads cleanly, its figures decode
at their natural size (text at the page's size), it is not blank; the tables sort."""

from __future__ import annotations

import io
import shutil

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from initlab import study as _study  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip("headless Chromium (/usr/bin/chromium) is not installed", allow_module_level=True)

#: Few seeds and epochs keep the test fast; the grid and the layout are the preset's own.
SMALL = {"blog": (3, 10), "optimizers": (2, 5), "moons": (2, 10), "deep": (2, 5)}


@pytest.fixture(scope="module")
def report_file(tmp_path_factory):
    import initlab
    from initlab import report

    runs, curves = initlab.sweep(
        "blog", (2,), ["tanh", "leaky_relu"], ["zeros", "he_normal"], ["gd"], [1.0],
        seeds=range(3), epochs=10, curves=True,
    )  # fmt: skip
    study = report.from_frames("browser", runs, curves, config={"epochs": 10})
    return report.render(study, tmp_path_factory.mktemp("r") / "report.html", command="test")


@pytest.fixture(scope="module")
def browser():
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


def open_page(browser, path):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.errors, page.requests = errors, requests
    return page


@pytest.fixture(scope="module")
def page(browser, report_file):
    p = open_page(browser, report_file)
    yield p
    p.close()


def not_blank(page):
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
    pixels = np.asarray(shot, dtype=float)
    return pixels.std() > 10 and (pixels < 128).mean() > 0.01  # text and figures


def image_sizes(page):
    return page.eval_on_selector_all(
        "img",
        "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight, "
        "i.getBoundingClientRect().width, i.parentElement.getBoundingClientRect().width])",
    )


def test_loads_without_console_errors_or_network(page):
    assert page.errors == []
    assert all(u.startswith(("file:", "data:")) for u in page.requests)
    assert page.title() == "initlab report: browser"


def test_every_image_decodes(page):
    sizes = image_sizes(page)
    assert len(sizes) == 6
    assert all(done and w > 100 and h > 100 for done, w, h, _, _ in sizes)


def column(page, table, name):
    headers = page.eval_on_selector_all(f"#{table} thead th", "hs => hs.map(h => h.textContent)")
    i = headers.index(name)
    return page.eval_on_selector_all(
        f"#{table} tbody tr", f"rows => rows.map(r => r.cells[{i}].textContent)"
    )


def test_table_sorts_when_a_header_is_clicked(page):
    before = [float(v) for v in column(page, "runs-table", "val_acc")]
    header = page.locator("#runs-table thead th", has_text="val_acc")
    header.click()
    asc = [float(v) for v in column(page, "runs-table", "val_acc")]
    assert asc == sorted(before)
    assert header.get_attribute("aria-sort") == "ascending"
    header.click()
    desc = [float(v) for v in column(page, "runs-table", "val_acc")]
    assert desc == sorted(before, reverse=True)
    # text columns sort alphabetically
    page.locator("#runs-table thead th", has_text="activation").click()
    acts = column(page, "runs-table", "activation")
    assert acts == sorted(acts)


def test_screenshot_is_not_blank(page):
    assert not_blank(page)


@pytest.mark.parametrize("preset", _study.PRESETS)
def test_every_presets_report_in_chromium(preset, browser, tmp_path):
    from initlab import report
    from initlab.study import Study

    seeds, epochs = SMALL[preset]
    s = Study.preset(preset, seeds=seeds, epochs=epochs)
    store = tmp_path / "s.db"
    assert s.run(store).ok
    path = report.build(s.name, store, tmp_path / f"{preset}.html", command="test")
    page = open_page(browser, path)
    try:
        assert page.errors == []
        assert all(u.startswith(("file:", "data:")) for u in page.requests)
        sizes = image_sizes(page)
        # heatmap, loss panels, boundaries, mistakes, two update grids (+ the curve over
        # the learning rate where several are swept)
        assert len(sizes) == 6 + (preset == "optimizers")
        for done, w, h, shown, room in sizes:
            assert done and w > 100 and h > 100  # decoded
            assert shown == w  # at its natural size: the figure's text keeps its size
            assert w <= room  # inside the page
        assert max(w for _, w, _, _, _ in sizes) == pytest.approx(sizes[0][4], abs=2)  # fills it
        assert not_blank(page)
        assert "Notes" not in page.content()  # no figure failed
    finally:
        page.close()
