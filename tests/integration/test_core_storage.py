"""The content store against a real Kubo daemon: add, cat, pin, verification on every read."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from decentralml.core.config import IpfsConfig
from decentralml.core.errors import IntegrityError, StorageError, StoreUnreachable
from decentralml.core.retry import RetryPolicy
from decentralml.core.storage.kubo import MAX_IN_MEMORY, KuboStore
from decentralml.core.types import ContentRef

from .devnode import free_port
from .kubo import KuboDaemon

pytestmark = pytest.mark.ipfs


@pytest.fixture
def store(kubo: KuboDaemon):
    with KuboStore(IpfsConfig(api_url=kubo.api_url)) as s:
        yield s


def test_version(store: KuboStore) -> None:
    assert store.version().startswith("0.")


@pytest.mark.parametrize("size", [0, 1, 262_144, 262_145, 3 * 262_144 + 17])
def test_add_bytes_reads_back(store: KuboStore, size: int) -> None:
    data = os.urandom(size)
    stored = store.add_bytes(data)
    assert stored.ref.size == size
    assert stored.ref.digest == hashlib.sha256(data).digest()
    assert store.cat(stored.ref) == data
    assert store.is_pinned(stored.ref.cid)


def test_add_file_streams_and_matches_ipfs_cli(
    store: KuboStore, kubo: KuboDaemon, tmp_path: Path
) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    stored = store.add_file(path)
    cli = kubo.ipfs(
        "add",
        "-Q",
        "--only-hash",
        "--cid-version=1",
        "--raw-leaves",
        "--chunker=size-262144",
        str(path),
        timeout=60,
    )
    assert stored.ref.cid == cli.stdout.decode().strip()
    dest = tmp_path / "out.bin"
    store.fetch_to(stored.ref, dest)
    assert dest.read_bytes() == path.read_bytes()


def test_wrong_digest_is_an_integrity_error_and_leaves_no_file(
    store: KuboStore, tmp_path: Path
) -> None:
    stored = store.add_bytes(b"model weights v1")
    forged = ContentRef(stored.ref.cid, hashlib.sha256(b"something else").digest(), stored.ref.size)
    with pytest.raises(IntegrityError, match="sha256"):
        store.cat(forged)
    dest = tmp_path / "w.bin"
    with pytest.raises(IntegrityError):
        store.fetch_to(forged, dest)
    assert not dest.exists()
    assert list(tmp_path.iterdir()) == []


def test_reference_naming_other_bytes_is_an_integrity_error(store: KuboStore) -> None:
    a = store.add_bytes(b"aaaa")
    b = store.add_bytes(b"bbbb")
    # The reference names a's CID with b's digest: the bytes served do not match it.
    with pytest.raises(IntegrityError):
        store.cat(ContentRef(a.ref.cid, b.ref.digest, 4))


def test_wrong_size_is_an_integrity_error(store: KuboStore) -> None:
    stored = store.add_bytes(b"12345678")
    with pytest.raises(IntegrityError):
        store.cat(ContentRef(stored.ref.cid, stored.ref.digest, 7))
    with pytest.raises(IntegrityError):
        store.cat(ContentRef(stored.ref.cid, stored.ref.digest, 9))


def test_corrupted_block_in_the_repo_is_detected(tmp_path: Path) -> None:
    """Corrupt the stored bytes behind Kubo's back: the read fails, it is never silently accepted."""
    daemon = KuboDaemon(repo=tmp_path / "repo")
    with daemon, KuboStore(IpfsConfig(api_url=daemon.api_url)) as s:
        daemon.start()
        stored = s.add_bytes(b"x" * 1000)
        daemon.stop()
        blocks = list((daemon.repo / "blocks").rglob("*.data"))
        assert blocks
        corrupted = 0
        for block in blocks:
            raw = block.read_bytes()
            if raw.startswith(b"x" * 10):
                block.write_bytes(b"y" + raw[1:])
                corrupted += 1
        assert corrupted == 1
        daemon.start()
        with pytest.raises(IntegrityError, match="sha256"):
            s.cat(stored.ref)


def test_pin(store: KuboStore, kubo: KuboDaemon) -> None:
    stored = store.add_bytes(b"unpinned", pin=False)
    assert not store.is_pinned(stored.ref.cid)
    store.pin(stored.ref.cid)
    assert store.is_pinned(stored.ref.cid)
    store.unpin(stored.ref.cid)
    assert not store.is_pinned(stored.ref.cid)
    store.unpin(stored.ref.cid)  # not pinned any more: not an error


def test_in_memory_limit(store: KuboStore) -> None:
    big = ContentRef(
        "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku", b"\0" * 32, MAX_IN_MEMORY + 1
    )
    with pytest.raises(StorageError, match="in-memory limit"):
        store.cat(big)


def test_unreachable_endpoint_fails_fast_with_a_clear_error() -> None:
    port = free_port()
    policy = RetryPolicy(attempts=2, initial_delay_s=0.05, deadline_s=1)
    store = KuboStore(IpfsConfig(api_url=f"http://127.0.0.1:{port}"), policy=policy)
    with store, pytest.raises(StoreUnreachable, match="unreachable"):
        store.add_bytes(b"x")


def test_auth_header_is_sent_and_never_shown(kubo: KuboDaemon) -> None:
    store = KuboStore(IpfsConfig(api_url=kubo.api_url, auth="user:s3cret"))
    assert "s3cret" not in repr(store)
    assert store._session.headers["Authorization"].startswith("Basic ")
    # Kubo without API auth configured ignores the header: the call still works.
    assert store.version()
    store.close()
