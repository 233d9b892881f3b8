"""The role commands' argument handling, offline (no node, no IPFS), and the import rule:
the roles and their commands never import TensorFlow (only training does, lazily)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.clirun import CLI


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)


def test_help_lists_the_three_roles() -> None:
    out = run("--help").stdout
    for name in ("train", "aggregate", "verify"):
        assert name in out
    assert "FAULT INJECTION" in run("aggregate", "--help").stdout


def test_missing_data_is_refused_before_any_connection(tmp_path: Path) -> None:
    proc = run(
        "--url",
        "ws://127.0.0.1:9",
        "train",
        "--task",
        "1",
        "--account",
        "//Bob",
        "--data",
        str(tmp_path / "absent.npz"),
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: --data {tmp_path / 'absent.npz'} does not exist"
    ]


def test_bad_rounds_and_missing_arguments_are_usage_errors() -> None:
    proc = run("aggregate", "--task", "1", "--account", "//Eve", "--rounds", "0")
    assert proc.returncode == 2 and "--rounds must be positive" in proc.stderr
    assert run("verify", "--task", "1", "--account", "//Eve").returncode == 2


def test_unreachable_node_is_exit_3(tmp_path: Path) -> None:
    proc = run(
        "--url",
        "ws://127.0.0.1:9",
        "aggregate",
        "--task",
        "1",
        "--account",
        "//Eve",
        "--state-dir",
        str(tmp_path),
    )
    assert proc.returncode == 3, proc.stderr


def test_roles_do_not_import_tensorflow() -> None:
    code = (
        "import sys\n"
        "import decentralml.core.roles.trainer, decentralml.core.roles.aggregator\n"
        "import decentralml.core.roles.verifier, decentralml.core.cli.roles\n"
        "from decentralml.core.roles.learning import FlLearning\n"
        "FlLearning().shutdown()\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
