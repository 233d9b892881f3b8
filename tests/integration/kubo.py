"""Start and stop a real Kubo (IPFS) daemon for tests.

Each daemon gets its own repo (``ipfs init --profile test``: no bootstrap peers, no mDNS),
free ports on 127.0.0.1 and runs ``--offline``: it never talks to the public network. It is
always stopped (SIGTERM, then SIGKILL); when it fails to come up the error carries the tail
of its log.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from .devnode import ManagedProcess, free_port

READY_TIMEOUT_S = float(os.environ.get("DML_KUBO_READY_TIMEOUT", "60"))


def kubo_binary() -> Path | None:
    """$DML_IPFS_BIN, else $DECENTRALML_CACHE/tools/ipfs (scripts/setup-kubo), else PATH."""
    explicit = os.environ.get("DML_IPFS_BIN")
    if explicit:
        return Path(explicit)
    cache = Path(os.environ.get("DECENTRALML_CACHE", str(Path.home() / ".cache" / "decentralml")))
    candidate = cache / "tools" / "ipfs"
    if candidate.exists():
        return candidate
    found = shutil.which("ipfs")
    return Path(found) if found else None


class KuboStartError(RuntimeError):
    """Kubo did not answer its RPC in time; the message holds its log tail."""


@dataclass
class KuboDaemon(ManagedProcess):
    repo: Path
    api_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def log_path(self) -> Path:
        return self.repo.parent / f"{self.repo.name}.log"

    def env(self) -> dict[str, str]:
        return {**os.environ, "IPFS_PATH": str(self.repo)}

    def ipfs(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess[bytes]:
        binary = kubo_binary()
        assert binary is not None
        return subprocess.run(
            [str(binary), *args], env=self.env(), capture_output=True, timeout=timeout, check=True
        )

    def init(self) -> None:
        self.ipfs("init", "--profile", "test", "--empty-repo")
        self.ipfs("config", "Addresses.API", f"/ip4/127.0.0.1/tcp/{self.api_port}")
        self.ipfs("config", "Addresses.Gateway", f"/ip4/127.0.0.1/tcp/{self.gateway_port}")
        self.ipfs("config", "--json", "Addresses.Swarm", "[]")
        self.ipfs("config", "--json", "Bootstrap", "[]")
        self.ipfs("config", "Routing.Type", "none")

    def start(self) -> KuboDaemon:
        binary = kubo_binary()
        if binary is None or not binary.exists():
            raise KuboStartError("Kubo not found: run scripts/setup-kubo (or set DML_IPFS_BIN)")
        if not (self.repo / "config").exists():
            self.init()
        self.spawn([str(binary), "daemon", "--offline"], env=self.env())
        self.wait_ready()
        return self

    def version(self) -> str:
        req = urllib.request.Request(f"{self.api_url}/api/v0/version", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=2) as resp:
            return str(json.loads(resp.read())["Version"])

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> None:
        try:
            code = self.wait_for(
                self.version, (OSError, urllib.error.URLError, ValueError), timeout
            )
        except TimeoutError:
            raise KuboStartError(
                f"Kubo did not answer on {self.api_url} within {timeout:.0f} s.\n"
                f"--- {self.log_path} ---\n{self.log_tail()}"
            ) from None
        if code is not None:
            raise KuboStartError(
                f"Kubo exited with code {code}.\n--- {self.log_path} ---\n{self.log_tail()}"
            )
