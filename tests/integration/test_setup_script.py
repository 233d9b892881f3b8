"""scripts/setup is idempotent: on a machine it has already set up, it changes nothing."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.chain  # needs the machine set up by scripts/setup


def test_second_run_reports_every_step_as_done() -> None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "setup")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "CI": "true"},
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    steps: list[list[str]] = []
    for line in proc.stdout.splitlines():
        if line.startswith("==> "):
            steps.append([line])
        elif steps:
            steps[-1].append(line)
    assert len(steps) >= 6, proc.stdout
    for step in steps:
        body = "\n".join(step[1:])
        assert "done in" in body, step
        if "uv sync" in step[0]:
            continue  # `uv sync --locked` is a no-op by itself when the venv matches the lock
        assert "already" in body, "second run redid a step:\n" + "\n".join(step)
    assert "installing" not in proc.stdout.lower()
    assert proc.stdout.rstrip().endswith("setup complete")
