"""``python -m initlab`` is the ``initlab`` command."""

import subprocess
import sys


def test_python_dash_m_initlab_runs_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "initlab", "list", "activations"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "leaky_relu" in out.stdout


def test_python_dash_m_initlab_exits_non_zero_on_bad_input():
    out = subprocess.run(
        [sys.executable, "-m", "initlab", "train", "--activation", "relux"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "relu" in out.stderr + out.stdout
