"""Delay and loss on the federation's links where the kernel has no ``netem``.

Some kernels (this project's CI machines run one) are built without ``sch_netem``. Then
:meth:`Federation.netem` puts this emulator between the participants instead: every
participant's host-side veth leaves the bridge, and one process switches Ethernet frames
between those veths (raw ``AF_PACKET`` sockets) and a tap device that takes their place on the
bridge (so the host still reaches everyone at the same addresses). Each frame is dropped with
probability ``loss_pct`` and otherwise sent on after ``delay_ms``: the same one-way delay and
loss as ``tc netem`` on each participant's egress (a frame between two participants passes
the emulator once; a round trip takes twice the delay). Addresses and MACs do not change, so
open connections survive the switch both ways.

Frames are learned and switched like a bridge does (source MAC -> port; unknown and group
destinations go to every other port). The participants' veths must not hand the emulator
segmentation-offloaded or checksum-less frames: :func:`offloads_off` turns TSO, GSO and TX
checksumming off on a participant's end (inside its namespace) before the switch.

Run as ``python -m decentralml.core.devstack.linkemu serve CONTROL TAP VETH...`` (CONTROL: a
JSON file ``{"delay_ms", "loss_pct"}``, re-read when it changes; the emulator writes
``CONTROL.ready`` once its ports are open), or ``... offloads-off DEV`` in a namespace.
"""

from __future__ import annotations

import fcntl
import heapq
import json
import os
import random
import selectors
import socket
import struct
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCETHTOOL = 0x8946
# Legacy ethtool "set" commands (struct ethtool_value {u32 cmd; u32 data;}).
ETHTOOL_STXCSUM = 0x17
ETHTOOL_STSO = 0x1F
ETHTOOL_SGSO = 0x24
FRAME = 65536


@dataclass(frozen=True)
class Conditions:
    delay_ms: float = 0.0
    loss_pct: float = 0.0

    @classmethod
    def read(cls, path: Path) -> Conditions:
        try:
            data = json.loads(path.read_text())
            return cls(float(data.get("delay_ms", 0)), float(data.get("loss_pct", 0)))
        except (OSError, ValueError, AttributeError):
            return cls()


def write_conditions(path: Path, delay_ms: float, loss_pct: float) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"delay_ms": delay_ms, "loss_pct": loss_pct}))
    tmp.replace(path)


def offloads_off(dev: str) -> None:
    """TX checksumming, TSO and GSO off on ``dev`` (in the caller's namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for cmd in (ETHTOOL_STSO, ETHTOOL_SGSO, ETHTOOL_STXCSUM):
            value = bytearray(struct.pack("II", cmd, 0))
            ifreq = struct.pack("16sP16x", dev.encode(), _address_of(value))
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifreq)


def _address_of(buffer: bytearray) -> int:
    import ctypes

    return ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))


class Port:
    """One switch port: a raw socket on a veth, or the tap's file descriptor."""

    def __init__(self, name: str, *, tap: bool = False) -> None:
        self.name = name
        self.tap = tap
        if tap:
            self.fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            fcntl.ioctl(self.fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
            self.sock: socket.socket | None = None
        else:
            self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
            self.sock.bind((name, 0))
            self.sock.setblocking(False)
            self.fd = self.sock.fileno()

    def receive(self) -> bytes | None:
        try:
            if self.sock is None:
                return os.read(self.fd, FRAME)
            data, addr = self.sock.recvfrom(FRAME)
        except (BlockingIOError, InterruptedError):
            return None
        if addr[2] == PACKET_OUTGOING:
            return None  # what this emulator itself just sent
        return data

    def send(self, frame: bytes) -> None:
        try:
            if self.sock is None:
                os.write(self.fd, frame)
            else:
                self.sock.send(frame)
        except OSError:
            pass  # a full queue or a link going down drops the frame, as a wire would


class Switch:
    def __init__(self, ports: Sequence[Port], control: Path, seed: int | None = None) -> None:
        self.ports = list(ports)
        self.control = control
        self.conditions = Conditions.read(control)
        self.mtime = 0.0
        self.table: dict[bytes, Port] = {}
        self.queue: list[tuple[float, int, Port, bytes]] = []
        self.seq = 0
        self.random = random.Random(seed)
        self.forwarded = self.dropped = 0

    def _reload(self) -> None:
        try:
            mtime = self.control.stat().st_mtime
        except OSError:
            return
        if mtime != self.mtime:
            self.mtime = mtime
            self.conditions = Conditions.read(self.control)

    def switch(self, source: Port, frame: bytes) -> None:
        if len(frame) < 14:
            return
        dst, src = frame[:6], frame[6:12]
        if not src[0] & 1:
            self.table[src] = source
        out = self.table.get(dst) if not dst[0] & 1 else None
        targets = [out] if out is not None and out is not source else []
        if not targets:
            targets = [p for p in self.ports if p is not source]
        due = time.monotonic() + self.conditions.delay_ms / 1000.0
        for port in targets:
            if self.random.random() * 100.0 < self.conditions.loss_pct:
                self.dropped += 1
                continue
            self.seq += 1
            heapq.heappush(self.queue, (due, self.seq, port, frame))

    def flush(self) -> None:
        now = time.monotonic()
        while self.queue and self.queue[0][0] <= now:
            _, _, port, frame = heapq.heappop(self.queue)
            port.send(frame)
            self.forwarded += 1

    def serve(self) -> None:
        selector = selectors.DefaultSelector()
        for port in self.ports:
            selector.register(port.fd, selectors.EVENT_READ, port)
        next_reload = 0.0
        while True:
            now = time.monotonic()
            if now >= next_reload:
                self._reload()
                next_reload = now + 0.2
            wait = 0.2 if not self.queue else max(0.0, self.queue[0][0] - now)
            for key, _ in selector.select(min(wait, 0.2)):
                port = key.data
                for _ in range(64):  # drain a burst without starving the queue
                    frame = port.receive()
                    if frame is None:
                        break
                    self.switch(port, frame)
            self.flush()


def main(argv: Sequence[str]) -> int:
    if len(argv) == 2 and argv[0] == "offloads-off":
        offloads_off(argv[1])
        return 0
    if len(argv) < 4 or argv[0] != "serve":
        sys.stderr.write(__doc__ or "")
        return 2
    control, tap, veths = Path(argv[1]), argv[2], argv[3:]
    ports = [Port(tap, tap=True), *(Port(v) for v in veths)]
    Path(f"{control}.ready").write_text(str(os.getpid()))
    Switch(ports, control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
