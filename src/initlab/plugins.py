"""Components from outside initlab, known in every process: entry points and plugin modules.

A registry (activations, initializers, optimizers, losses, data sets,
experiments) knows its built-in components and those of two kinds of plugins,
which it loads the first time it looks a name up, in the main process and in
every worker process alike:

* **Entry points** of an installed package, in the groups of :data:`GROUPS`.
  Each names a module, imported for the registrations it makes, or a callable,
  called with no arguments to make them.  In the package's ``pyproject.toml``::

      [project.entry-points."initlab.activations"]
      bent_identity = "mypackage.activations"

* **Plugin modules** of your own, listed in the environment variable
  ``INITLAB_PLUGINS`` (module names separated by commas), or given to
  :func:`use`, which imports them and adds them to ``INITLAB_PLUGINS`` so that
  the worker processes started afterwards (``--executor processes``, a local
  Dask cluster) import them too.  Workers of a Dask cluster on other hosts
  need the variable where they start, and the module on their path::

      INITLAB_PLUGINS=myactivations dask worker tcp://scheduler:8786

A plugin module registers with the registries' own functions
(:func:`initlab.activations.register`, :func:`initlab.initializers.register`,
:func:`initlab.optim.register`, :func:`initlab.losses.register`,
:func:`initlab.datasets.register`, :func:`initlab.experiments.register`).
:func:`active` lists what was loaded, for a study's provenance.

Examples
--------
>>> from initlab import plugins
>>> sorted(plugins.GROUPS)[:2]
['initlab.activations', 'initlab.datasets']
"""

from __future__ import annotations

import importlib
import os
import types
from importlib.metadata import entry_points

from .errors import InitlabError

__all__ = ["ENV", "GROUPS", "PluginError", "use", "load", "active"]

#: The environment variable naming plugin modules, separated by commas.
ENV = "INITLAB_PLUGINS"

#: Entry-point groups, by registry.
GROUPS = {
    "initlab.activations": "activations",
    "initlab.initializers": "initializers",
    "initlab.optimizers": "optimizers",
    "initlab.losses": "losses",
    "initlab.datasets": "data sets",
    "initlab.experiments": "experiments",
}

_modules: list[str] = []  # plugin modules imported, in order
_entry_points: list[str] = []  # "group:name = value" of the entry points loaded
_groups_loaded: set[str] = set()


class PluginError(InitlabError, ImportError):
    """A plugin module or entry point could not be loaded; the message says which and why."""


def _names(value: str) -> list[str]:
    return [m.strip() for m in value.split(",") if m.strip()]


def _import(module: str, source: str) -> None:
    if module in _modules:
        return
    try:
        importlib.import_module(module)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's module is reported
        raise PluginError(
            f"cannot import plugin module {module!r} ({source}): {type(exc).__name__}: {exc}"
        ) from exc
    _modules.append(module)


def use(*modules: str) -> None:
    """Import plugin modules now, and in the worker processes started from here on.

    The modules are appended to ``INITLAB_PLUGINS`` in this process's
    environment, which worker processes inherit.
    """
    for module in modules:
        if not isinstance(module, str) or not module.strip():
            raise PluginError(f"a plugin is given by its module name (a str), got {module!r}")
        _import(module.strip(), "initlab.plugins.use")
    listed = _names(os.environ.get(ENV, ""))
    os.environ[ENV] = ",".join(dict.fromkeys([*listed, *(m.strip() for m in modules)]))


def load(group: str | None = None) -> None:
    """Import the ``INITLAB_PLUGINS`` modules and the entry points of ``group`` (once each).

    The registries call this before their first lookup; call it yourself only
    to load plugins early (and see their errors early).
    """
    for module in _names(os.environ.get(ENV, "")):
        _import(module, f"listed in {ENV}")
    if group is None or group in _groups_loaded:
        return
    if group not in GROUPS:
        raise PluginError(f"unknown plugin group {group!r}; the groups are: {', '.join(GROUPS)}")
    _groups_loaded.add(group)
    for ep in entry_points(group=group):
        label = f"{group}:{ep.name} = {ep.value}"
        try:
            obj = ep.load()
            if not isinstance(obj, types.ModuleType):
                if not callable(obj):
                    raise TypeError("an entry point names a module or a callable")
                obj()
        except Exception as exc:  # noqa: BLE001
            raise PluginError(
                f"cannot load entry point {label}: {type(exc).__name__}: {exc}"
            ) from exc
        _entry_points.append(label)


def active() -> list[str]:
    """The plugins loaded in this process: modules, then entry points (``group:name = value``)."""
    return [*_modules, *_entry_points]
