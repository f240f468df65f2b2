"""The report in headless Chromium: loads cleanly, images decode, the table sorts, not blank."""

from __future__ import annotations

import io
import shutil

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
playwright = pytest.importorskip("playwright.sync_api")
if not shutil.which(CHROMIUM):
    pytest.skip("headless Chromium (/usr/bin/chromium) is not installed", allow_module_level=True)


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
def page(report_file):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report_file.as_uri(), wait_until="load")
        page.errors, page.requests = errors, requests
        yield page
        browser.close()


def test_loads_without_console_errors_or_network(page):
    assert page.errors == []
    assert all(u.startswith(("file:", "data:")) for u in page.requests)
    assert page.title() == "initlab report: browser"


def test_every_image_decodes(page):
    sizes = page.eval_on_selector_all(
        "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
    )
    assert len(sizes) == 5
    assert all(done and w > 100 and h > 100 for done, w, h in sizes)


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
    shot = Image.open(io.BytesIO(page.screenshot(full_page=False))).convert("L")
    pixels = np.asarray(shot, dtype=float)
    assert pixels.std() > 10  # text and figures, not a white page
    assert (pixels < 128).mean() > 0.01
