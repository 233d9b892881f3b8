"""Run the installed `decentralml` script against the test node and Kubo (shared by CLI tests)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from decentralml.core.config import home_env

CLI = str(Path(sys.executable).parent / "decentralml")

Run = Callable[..., subprocess.CompletedProcess[str]]


def make_runner(ws_url: str, ipfs_api: str, home: Path) -> Run:
    """A runner with its own config dir and keystore under ``home``; no password in the env."""
    env = home_env(home, ws_url, ipfs_api)

    def run(
        *args: str,
        ok: bool = True,
        extra_env: dict[str, str] | None = None,
        input_: str | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [CLI, *args],
            env={**env, **(extra_env or {})},
            capture_output=True,
            text=True,
            input=input_,
            timeout=timeout,
        )
        if ok:
            assert proc.returncode == 0, f"{args} failed ({proc.returncode}): {proc.stderr}"
        else:
            assert proc.returncode != 0, f"{args} should have failed: {proc.stdout}"
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1, proc.stderr
            assert lines[0].startswith("error: "), proc.stderr
        return proc

    return run


def js(proc: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(proc.stdout)
