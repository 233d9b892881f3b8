"""docker-compose.yml brought up for real: three validators, five IPFS peers, the demo roles,
one round finalized (issue 16). Needs a Docker daemon: without one the test is skipped and
says so (tests/unit/test_dockerfile.py checks the file's layout everywhere)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.clirun import CLI

ROOT = Path(__file__).resolve().parents[2]


def docker_unavailable() -> str | None:
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"no Docker daemon answers (`docker info`: {why})"
    return None


@pytest.mark.skipif(
    (reason := docker_unavailable()) is not None,
    reason=f"docker-compose federation NOT brought up: {reason}",
)
def test_compose_federation_finalizes_a_round() -> None:
    env = {**os.environ, "DML_PASSWORD": "compose-test", "COMPOSE_PROJECT_NAME": "dmltest"}
    compose = ["docker", "compose", "-f", str(ROOT / "docker-compose.yml")]
    subprocess.run([*compose, "up", "-d", "--build"], check=True, env=env, timeout=3600)
    try:
        deadline = time.monotonic() + 900
        while True:
            done = subprocess.run(
                [CLI, "--url", "ws://127.0.0.1:9944", "--json", "task", "show", "0"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            shown = json.loads(done.stdout) if done.returncode == 0 else {}
            if int((shown.get("task") or {}).get("next_round", 0)) >= 2:
                break  # round 0 finalized and round 1 opened
            assert time.monotonic() < deadline, done.stdout + done.stderr
            time.sleep(10)
    finally:
        subprocess.run([*compose, "down", "-v"], env=env, timeout=600, check=False)
