"""Start and stop a real node-decentralml for tests.

Each node gets free ports and its own base path, so tests never touch a developer's
running chain. The node is always stopped (SIGTERM, then SIGKILL) and, when it fails to
come up, the error carries the tail of its log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

READY_TIMEOUT_S = float(os.environ.get("DML_NODE_READY_TIMEOUT", "90"))


def node_binary() -> Path:
    """The node binary: $DML_NODE_BIN, else $CARGO_TARGET_DIR/debug/node-decentralml."""
    explicit = os.environ.get("DML_NODE_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get(
        "CARGO_TARGET_DIR", str(Path.home() / ".cache" / "decentralml" / "target")
    )
    return Path(target) / "debug" / "node-decentralml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc_call(
    port: int, method: str, params: list[object] | None = None, timeout: float = 5.0
) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        reply = json.loads(resp.read())
    if "error" in reply:
        raise RuntimeError(f"{method} failed: {reply['error']}")
    return reply["result"]


def stop_process_group(process: subprocess.Popen[bytes] | None) -> None:
    """Stop a process started with start_new_session: SIGTERM its group, SIGKILL after 20 s."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


class ManagedProcess:
    """A child in its own session, its output in ``log_path``: waited for, always stoppable.

    Subclasses are dataclasses with a ``process`` field and a ``log_path``.
    """

    process: subprocess.Popen[bytes] | None

    @property
    def log_path(self) -> Path:
        raise NotImplementedError

    def spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def wait_for(
        self,
        probe: Callable[[], object],
        errors: tuple[type[BaseException], ...],
        timeout: float,
    ) -> int | None:
        """Call ``probe`` every 0.1 s until it returns without one of ``errors``.

        Returns None once it answers, or the exit code if the process died first. After
        ``timeout`` seconds the process is stopped and TimeoutError raised.
        """
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                return code
            try:
                probe()
                return None
            except errors:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError

    def stop(self) -> None:
        stop_process_group(self.process)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class NodeStartError(RuntimeError):
    """The node did not answer RPC in time; the message holds its log tail."""


@dataclass
class DevNode(ManagedProcess):
    base_path: Path
    extra_args: list[str] = field(default_factory=list)
    rpc_port: int = field(default_factory=free_port)
    p2p_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    ready_after_s: float = 0.0
    env: dict[str, str] | None = None

    @property
    def log_path(self) -> Path:
        return self.base_path / "node.log"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.rpc_port}"

    def command(self) -> list[str]:
        return [
            str(node_binary()),
            "--dev",
            "--base-path",
            str(self.base_path / "chain"),
            "--rpc-port",
            str(self.rpc_port),
            "--listen-addr",
            f"/ip4/127.0.0.1/tcp/{self.p2p_port}",
            "--no-prometheus",
            "--no-telemetry",
            "--no-mdns",
            *self.extra_args,
        ]

    def start(self, wait: bool = True) -> DevNode:
        binary = node_binary()
        if not binary.exists():
            raise NodeStartError(
                f"{binary} does not exist: build it with scripts/build-node (or set DML_NODE_BIN)"
            )
        self.base_path.mkdir(parents=True, exist_ok=True)
        self.started_at = time.monotonic()
        self.spawn(self.command(), env=self.env)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        try:
            code = self.wait_for(
                lambda: rpc_call(self.rpc_port, "system_health", timeout=1.0),
                (OSError, urllib.error.URLError, RuntimeError),
                timeout,
            )
        except TimeoutError:
            raise NodeStartError(
                f"node-decentralml did not answer RPC on port {self.rpc_port} within {timeout:.0f} s.\n"
                f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
            ) from None
        if code is not None:
            raise NodeStartError(
                f"node-decentralml exited with code {code} before its RPC came up.\n"
                f"--- last lines of {self.log_path} ---\n{self.log_tail()}"
            )
        self.ready_after_s = time.monotonic() - self.started_at
