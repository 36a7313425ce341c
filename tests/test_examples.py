"""The examples run as documented."""

from __future__ import annotations

import os
import subprocess
import sys

from ._procs import ROOT


def test_dictconfig_example_runs_against_its_own_drain() -> None:
    """examples/dictconfig_example.py with no settings starts a drain and delivers to it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASTRALOG_")}
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "dictconfig_example.py")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "delivered"
    assert [line.split()[0] for line in lines[:-1]] == ["info", "warn", "error"]
