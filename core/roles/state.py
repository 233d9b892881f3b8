"""The resume journal of a role: a small JSON file written atomically.

A role records what it is about to do (``intent``) before each submission and what it did
(``done``) after it, per round. After a crash or a restart it reads the journal back and
skips work already done (a trained and uploaded update is submitted again rather than trained
again). The chain stays the source of truth: before submitting, a role always checks the chain
for its own update/aggregate/challenge, so a journal lost or out of date can never cause a
second submission, only repeated work.

Atomic write: the JSON goes to a temporary file in the same directory, is fsynced, then
renamed over the journal (and the directory fsynced), so a reader sees either the old or the
new journal, never a torn one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from ..errors import ConfigError

log = logging.getLogger(__name__)

JOURNAL = "journal.json"
STATE_ENV = "DECENTRALML_STATE"


def state_base() -> Path:
    """``$DECENTRALML_STATE``, default ./.state: where roles and the CLI keep local state."""
    return Path(os.environ.get(STATE_ENV) or ".state")


def default_state_dir(role: str, task: int, address: str) -> Path:
    """``$DECENTRALML_STATE/roles/<role>-<task>-<ss58>``; DECENTRALML_STATE defaults to ./.state."""
    return state_base() / "roles" / f"{role}-{task}-{address}"


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old or the new content, never a mix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


class Journal:
    """Per-round records of one role on one task, persisted in ``<dir>/journal.json``.

    Layout: ``{"version": 1, "role": ..., "task": ..., "account": ..., "rounds": {"<index>":
    {...}}, "meta": {...}}``. Values are plain JSON. Thread-safe.
    """

    def __init__(self, directory: Path, *, role: str, task: int, account: str) -> None:
        self.directory = directory
        self.path = directory / JOURNAL
        self._lock = threading.Lock()
        self._data: dict[str, Any] = {
            "version": 1,
            "role": role,
            "task": task,
            "account": account,
            "rounds": {},
            "meta": {},
        }
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"the resume journal {self.path} is unreadable ({exc}); move it away to start "
                    "afresh (the chain is checked before every submission)"
                ) from None
            if not isinstance(loaded, dict) or not isinstance(loaded.get("rounds"), dict):
                raise ConfigError(
                    f"the resume journal {self.path} has an unknown layout; move it away"
                )
            if (loaded.get("role"), loaded.get("task"), loaded.get("account")) != (
                role,
                task,
                account,
            ):
                raise ConfigError(
                    f"the resume journal {self.path} belongs to another role, task or account; "
                    "use another --state-dir"
                )
            loaded.setdefault("meta", {})
            self._data = loaded
            log.info("resuming from %s", self.path)
        directory.mkdir(parents=True, exist_ok=True)

    def _save(self) -> None:
        write_atomic(self.path, json.dumps(self._data, indent=1, sort_keys=True).encode())

    def round(self, index: int) -> dict[str, Any]:
        """A copy of the record of round ``index`` (empty if none)."""
        with self._lock:
            return dict(self._data["rounds"].get(str(index), {}))

    def update_round(self, index: int, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into the record of round ``index`` and persist at once."""
        with self._lock:
            record = dict(self._data["rounds"].get(str(index), {}))
            record.update(fields)
            self._data["rounds"][str(index)] = record
            self._save()
            return dict(record)

    def rounds(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {int(k): dict(v) for k, v in self._data["rounds"].items()}

    def meta(self, key: str, default: Any = None) -> Any:
        with self._lock:
            return self._data["meta"].get(key, default)

    def set_meta(self, key: str, value: Any) -> None:
        with self._lock:
            self._data["meta"][key] = value
            self._save()
