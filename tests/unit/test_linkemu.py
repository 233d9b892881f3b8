"""The userspace link emulator's switching, delay and loss (core/devstack/linkemu.py) with
in-memory ports; tests/e2e/test_federation_net.py runs it between real namespaces."""

from __future__ import annotations

import time
from pathlib import Path

from decentralml.core.devstack.linkemu import Conditions, Switch, write_conditions


class FakePort:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[bytes] = []

    def send(self, frame: bytes) -> None:
        self.sent.append(frame)


def frame(dst: str, src: str, body: bytes = b"x" * 50) -> bytes:
    return bytes.fromhex(dst) + bytes.fromhex(src) + b"\x08\x00" + body


A, B, HOST = "02000000000a", "02000000000b", "0200000000ff"
BROADCAST = "ffffffffffff"


def make(tmp_path: Path, delay_ms: float = 0.0, loss_pct: float = 0.0) -> tuple[Switch, list]:
    control = tmp_path / "c.json"
    write_conditions(control, delay_ms, loss_pct)
    ports = [FakePort("tap"), FakePort("a"), FakePort("b")]
    return Switch(ports, control, seed=1), ports  # type: ignore[arg-type]


def test_frames_are_flooded_until_learned_then_switched(tmp_path: Path) -> None:
    switch, (tap, a, b) = make(tmp_path)
    switch.switch(a, frame(BROADCAST, A))  # an ARP request: everyone else gets it
    switch.flush()
    assert (len(tap.sent), len(a.sent), len(b.sent)) == (1, 0, 1)
    switch.switch(b, frame(A, B))  # the reply goes to A's port only
    switch.flush()
    assert (len(tap.sent), len(a.sent), len(b.sent)) == (1, 1, 1)
    switch.switch(tap, frame(B, HOST))
    switch.flush()
    assert len(b.sent) == 2 and len(a.sent) == 1
    switch.switch(a, b"short")  # not a frame: dropped
    switch.flush()
    assert switch.forwarded == 4


def test_delay_holds_frames_and_loss_drops_about_that_share(tmp_path: Path) -> None:
    switch, (tap, a, b) = make(tmp_path, delay_ms=50)
    switch.switch(b, frame(A, B))  # A not learned yet: to the tap and to a
    switch.switch(a, frame(B, A))  # B learned: to b only
    switch.flush()
    assert b.sent == a.sent == tap.sent == [] and len(switch.queue) == 3
    time.sleep(0.06)
    switch.flush()
    assert (len(tap.sent), len(a.sent), len(b.sent)) == (1, 1, 1) and not switch.queue

    switch, (_, a, b) = make(tmp_path, loss_pct=10)
    switch.switch(b, frame(A, B))  # learn B
    for _ in range(2000):
        switch.switch(a, frame(B, A))
    switch.flush()
    assert 150 <= switch.dropped <= 250, switch.dropped  # 10 % of 2,000 (seeded)


def test_conditions_are_read_back_and_a_bad_file_means_none(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    write_conditions(path, 100, 1.0)
    assert Conditions.read(path) == Conditions(100.0, 1.0)
    path.write_text("{not json")
    assert Conditions.read(path) == Conditions()
    assert Conditions.read(tmp_path / "missing.json") == Conditions()
