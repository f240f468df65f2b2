"""examples/blog_walkthrough.ipynb runs from top to bottom (nbclient) and shows its figures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "blog_walkthrough.ipynb"


@pytest.mark.slow
def test_blog_walkthrough_executes(tmp_path, monkeypatch):
    # the kernel is a separate process: give it this checkout's package and a headless backend
    path = os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 9  # every plot step shows its figure, once
    gifs = [o for o in outputs if "image/gif;base64" in o.get("data", {}).get("text/html", "")]
    assert len(gifs) == 1
    text = "".join(o.get("text", "") for o in outputs)
    # the blog's numbers, reproduced
    assert "('zeros', 'sigmoid'): 0.54" in text
    assert "('xavier', 'tanh'): 0.86" in text
    assert "('he', 'leaky_relu'): 0.92" in text
