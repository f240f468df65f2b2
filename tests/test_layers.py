"""The layers of the package: dependencies point one way, and heavy imports stay lazy.

core <- engine <- sweeps/studies <- report/cli/web: a module imports, at module
level, only modules of its own layer or of a lower one (an import inside a
function, done when it is called, may reach up: an experiment's figure
imports :mod:`initlab.plots`).  And a worker that only trains imports neither
pandas, scikit-learn, matplotlib nor numba.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import initlab

#: Each module's layer, by name or by package prefix ("plots." covers its modules).
LAYERS = {
    "core": (
        "errors", "_registry", "plugins", "files", "activations", "initializers", "losses",
        "optim",
    ),
    "engine": (
        "engine", "kernels", "fused", "runs", "datasets", "network", "diagnostics", "meanfield",
    ),
    "studies": (
        "sweep", "study", "store", "stats", "layout", "distributed", "experiments", "experiments.",
        "advice", "torch",
    ),
    "top": ("plots", "plots.", "report", "cli", "_console", "__main__", "web", "web."),
}  # fmt: skip
ORDER = list(LAYERS)
ROOT = Path(initlab.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _layer(name: str) -> str:
    for layer, members in LAYERS.items():
        if name in members or any(m.endswith(".") and name.startswith(m) for m in members):
            return layer
    raise AssertionError(f"module initlab.{name} has no layer: add it to LAYERS in {__file__}")


def _module_level_imports(name: str, path: Path) -> set[str]:
    """The initlab modules ``name`` imports when it is imported (not inside functions)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
            if node.module:
                found.add(".".join([*base, node.module]))
            else:
                found.update(".".join([*base, a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("initlab."):
            found.add(node.module.removeprefix("initlab."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("initlab.") for a in node.names)
    modules = _modules()
    # "from . import __version__" and "from .plots import Figure" name the module they come from
    return {m if m in modules else m.rsplit(".", 1)[0] for m in found if m.split(".")[0] != ""}


@pytest.mark.parametrize("name", sorted(_modules()))
def test_module_level_imports_point_down(name):
    if name == "":
        return  # the package itself imports nothing at module level (see below)
    mine = ORDER.index(_layer(name))
    modules = _modules()
    for dep in _module_level_imports(name, modules[name]):
        if dep not in modules or dep == "":
            continue  # a third-party module, or the package's lazy attributes
        assert ORDER.index(_layer(dep)) <= mine, (
            f"initlab.{name} ({_layer(name)}) imports initlab.{dep} ({_layer(dep)}) at module "
            f"level; the layers are {' <- '.join(ORDER)}"
        )


def test_the_table_catches_an_upward_import(tmp_path):
    # the check above can fail: an engine-layer module importing plots is refused
    fake = tmp_path / "fake.py"
    fake.write_text("from .plots import dataset\nfrom . import engine\n")
    assert _module_level_imports("network", fake) == {"plots", "engine"}
    assert ORDER.index(_layer("plots")) > ORDER.index(_layer("network"))


HEAVY = ("pandas", "sklearn", "matplotlib", "numba", "rich", "typer", "dask", "torch")


@pytest.mark.parametrize(
    "module, allowed",
    [
        ("initlab", ()),
        ("initlab.engine", ()),  # a worker that only trains
        ("initlab.optim", ()),
        ("initlab.sweep", ()),
        ("initlab.meanfield", ()),
        ("initlab.advice", ()),  # advice is mean-field theory; --check imports the engine
        ("initlab.diagnostics", ("pandas", "sklearn")),  # data only: no matplotlib
        ("initlab.experiments", ("pandas", "sklearn")),
        ("initlab.cli", ("rich", "typer")),  # commands import what they need when run
    ],
)
def test_imports_stay_lazy(module, allowed):
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {m.split(".")[0] for m in out.stdout.split()}
    unexpected = sorted(loaded & set(HEAVY) - set(allowed))
    assert not unexpected, f"import {module} loads {unexpected}"
    if module == "initlab":
        assert "numpy" not in loaded  # import initlab is instant
