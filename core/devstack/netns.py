"""Network namespaces on one host: a bridge, and per participant a namespace wired into it.

This is the network layer of the federation launcher (``federation.py``). Every participant
gets a Linux network namespace of its own, so its programs see only two interfaces: loopback
(its own 127.0.0.1, which nobody else can reach) and one end of a veth pair whose other end
is plugged into a bridge on the host. Everything another participant can reach is therefore
the participant's bridge address, exactly as if it ran on a host of its own on a LAN::

    host:   <prefix>fed0  (bridge, <subnet>.1/24)
              |-- <prefix>h0 <==veth==> <prefix>n0  in namespace <prefix>-alice      <subnet>.2/24
              |-- <prefix>h1 <==veth==> <prefix>n1  in namespace <prefix>-bob        <subnet>.3/24
              ...

There is no default route inside a namespace, so nothing in it can reach the internet.

Names: namespaces are ``<prefix>-<participant>``, links ``<prefix>fed0``, ``<prefix>h<i>``
and ``<prefix>n<i>`` (Linux limits interface names to 15 characters, hence the indexes).
:func:`teardown` removes everything that carries the prefix, so it also cleans up after a
crash that left no record. The command builders are pure functions (unit-tested without
root); :class:`Netns` runs them with ``ip`` and ``tc`` and needs root (CAP_NET_ADMIN).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import DevStackError

log = logging.getLogger(__name__)

Argv = list[str]
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,5}$")
SUBNET_RE = re.compile(r"^(\d{1,3})\.(\d{1,3})\.(\d{1,3})$")
MAX_SLOTS = 250  # host .1, participants .2 .. .251


class NetnsUnavailable(DevStackError):
    """Namespaces cannot be made here (not root, no ``ip``, or the kernel refused)."""


class QdiscUnavailable(DevStackError):
    """The kernel lacks a queueing discipline (``netem`` is a module some kernels leave out)."""


@dataclass(frozen=True)
class Slot:
    """One participant's place on the bridge."""

    name: str
    index: int
    netns: str
    address: str
    host_veth: str
    peer_veth: str


@dataclass(frozen=True)
class NetPlan:
    """The names and addresses of one federation's network. ``prefix`` keeps two federations
    (or a test and a developer's) apart; ``subnet`` is the first three octets of a /24."""

    prefix: str = "dml"
    subnet: str = "10.77.0"

    def __post_init__(self) -> None:
        if not PREFIX_RE.match(self.prefix):
            raise DevStackError(
                f"network prefix {self.prefix!r} must be 1-6 lowercase letters or digits, "
                "starting with a letter"
            )
        m = SUBNET_RE.match(self.subnet)
        if m is None or any(int(octet) > 255 for octet in m.groups()):
            raise DevStackError(f"subnet {self.subnet!r} must be three octets, e.g. 10.77.0")

    @property
    def bridge(self) -> str:
        return f"{self.prefix}fed0"

    @property
    def host_address(self) -> str:
        return f"{self.subnet}.1"

    def netns_name(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def slot(self, index: int, name: str) -> Slot:
        if not NAME_RE.match(name):
            raise DevStackError(f"participant name {name!r}: use lowercase letters, digits, '-'")
        if not 0 <= index < MAX_SLOTS:
            raise DevStackError(f"participant index {index} is outside 0..{MAX_SLOTS - 1}")
        return Slot(
            name=name,
            index=index,
            netns=self.netns_name(name),
            address=f"{self.subnet}.{index + 2}",
            host_veth=f"{self.prefix}h{index}",
            peer_veth=f"{self.prefix}n{index}",
        )


# ---- pure command builders ---------------------------------------------------------------------
def bridge_commands(plan: NetPlan) -> list[Argv]:
    return [
        ["ip", "link", "add", plan.bridge, "type", "bridge"],
        ["ip", "addr", "add", f"{plan.host_address}/24", "dev", plan.bridge],
        ["ip", "link", "set", plan.bridge, "up"],
    ]


def slot_commands(plan: NetPlan, slot: Slot) -> list[Argv]:
    ns = slot.netns
    return [
        ["ip", "netns", "add", ns],
        ["ip", "link", "add", slot.host_veth, "type", "veth", "peer", "name", slot.peer_veth],
        ["ip", "link", "set", slot.peer_veth, "netns", ns],
        ["ip", "link", "set", slot.host_veth, "master", plan.bridge],
        ["ip", "link", "set", slot.host_veth, "up"],
        ["ip", "-n", ns, "link", "set", "lo", "up"],
        ["ip", "-n", ns, "addr", "add", f"{slot.address}/24", "dev", slot.peer_veth],
        ["ip", "-n", ns, "link", "set", slot.peer_veth, "up"],
    ]


def exec_prefix(slot: Slot) -> Argv:
    """Run a program inside the slot's namespace (``ip netns exec`` execs it in place, so the
    pid of the started process is the program's own)."""
    return ["ip", "netns", "exec", slot.netns]


def netem_command(slot: Slot, delay_ms: int, loss_pct: float) -> Argv:
    """Delay and drop what the participant sends (its veth's egress, inside its namespace):
    a packet between two participants crosses one such queue, so the one-way delay is
    ``delay_ms`` and the round trip twice that."""
    if delay_ms < 0 or not 0 <= loss_pct < 100:
        raise DevStackError(f"netem: delay {delay_ms} ms / loss {loss_pct} % out of range")
    return [
        *exec_prefix(slot),
        *["tc", "qdisc", "replace", "dev", slot.peer_veth, "root", "netem"],
        *["delay", f"{delay_ms}ms", "loss", f"{loss_pct:g}%"],
    ]


def shape_command(slot: Slot, rate_kbit: int) -> Argv:
    """Cap what the participant sends at ``rate_kbit`` (a token bucket; a queue of at most
    200 ms, beyond which packets are dropped)."""
    if rate_kbit <= 0:
        raise DevStackError(f"shape: rate {rate_kbit} kbit/s must be positive")
    return [
        *exec_prefix(slot),
        *["tc", "qdisc", "replace", "dev", slot.peer_veth, "root", "tbf"],
        *["rate", f"{rate_kbit}kbit", "burst", "16kb", "latency", "200ms"],
    ]


def netem_clear_command(slot: Slot) -> Argv:
    return [*exec_prefix(slot), "tc", "qdisc", "del", "dev", slot.peer_veth, "root"]


# ---- pure parsers (teardown by prefix) -------------------------------------------------------
def parse_netns_list(text: str) -> list[str]:
    """Names from ``ip netns list`` (lines like ``dml-alice (id: 3)`` or just ``dml-alice``)."""
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def ours_netns(names: Sequence[str], prefix: str) -> list[str]:
    return sorted(n for n in names if n.startswith(f"{prefix}-"))


def parse_link_names(text: str) -> list[str]:
    """Interface names from ``ip -j link show`` (JSON)."""
    data = json.loads(text or "[]")
    return [str(item["ifname"]) for item in data if isinstance(item, dict) and "ifname" in item]


def ours_links(names: Sequence[str], prefix: str) -> list[str]:
    """Our bridge and host-side veths; the namespace ends vanish with their namespace."""
    pattern = re.compile(rf"^{re.escape(prefix)}(fed0|h\d+)$")
    return sorted(n for n in names if pattern.match(n))


# ---- running them ------------------------------------------------------------------------------
def unavailable_reason() -> str | None:
    """Why namespaces cannot be used here, or None if they may be (``ip netns add`` decides)."""
    if os.geteuid() != 0:
        return "not running as root (network namespaces need CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


class Netns:
    """Creates and removes one :class:`NetPlan`'s bridge and namespaces with ``ip``."""

    def __init__(self, plan: NetPlan) -> None:
        self.plan = plan

    def run(self, argv: Argv, *, check: bool = True, timeout: float = 20.0) -> str:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise NetnsUnavailable(
                f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}. "
                "Network namespaces need root (or CAP_NET_ADMIN) and iproute2; "
                "run as root, or use the non-isolated fallback (isolate='never')"
            )
        return done.stdout

    def netns_names(self) -> list[str]:
        return parse_netns_list(self.run(["ip", "netns", "list"], check=False))

    def link_names(self) -> list[str]:
        return parse_link_names(self.run(["ip", "-j", "link", "show"], check=False))

    def setup(self, slots: Sequence[Slot]) -> None:
        """Create what is missing (idempotent): a slot that exists but is wired wrong (a crash
        in the middle of a setup) is removed and made again."""
        reason = unavailable_reason()
        if reason is not None:
            raise NetnsUnavailable(f"cannot isolate the federation: {reason}")
        links = set(self.link_names())
        if self.plan.bridge not in links:
            for argv in bridge_commands(self.plan):
                self.run(argv)
        elif f"{self.plan.host_address}/24" not in self._addresses(None, self.plan.bridge):
            self.run(["ip", "addr", "add", f"{self.plan.host_address}/24", "dev", self.plan.bridge])
            self.run(["ip", "link", "set", self.plan.bridge, "up"])
        namespaces = set(self.netns_names())
        for slot in slots:
            if slot.netns in namespaces and self._slot_ok(slot, links):
                continue
            self._remove_slot(slot)
            for argv in slot_commands(self.plan, slot):
                self.run(argv)

    def _addresses(self, netns: str | None, dev: str) -> list[str]:
        argv = ["ip", *(["-n", netns] if netns else []), "-j", "addr", "show", "dev", dev]
        try:
            data = json.loads(self.run(argv, check=False) or "[]")
        except ValueError:
            return []
        return [
            f"{a['local']}/{a['prefixlen']}"
            for item in data
            for a in item.get("addr_info", [])
            if "local" in a
        ]

    def _slot_ok(self, slot: Slot, links: set[str]) -> bool:
        return slot.host_veth in links and f"{slot.address}/24" in self._addresses(
            slot.netns, slot.peer_veth
        )

    def _remove_slot(self, slot: Slot) -> None:
        self.run(["ip", "netns", "del", slot.netns], check=False)
        self.run(["ip", "link", "del", slot.host_veth], check=False)

    def pids_in(self, netns: str) -> list[int]:
        out = self.run(["ip", "netns", "pids", netns], check=False)
        return [int(p) for p in out.split() if p.isdigit()]

    def _qdisc(self, argv: Argv, kind: str) -> None:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        if done.returncode == 0:
            return
        err = done.stderr.strip()
        if "unknown" in err.lower():
            raise QdiscUnavailable(
                f"this kernel ({os.uname().release}) has no `{kind}` queueing discipline "
                f"(CONFIG_NET_SCH_{kind.upper()}): `tc` said {err!r}; load it with "
                f"`modprobe sch_{kind}` or use a kernel built with it"
            )
        raise DevStackError(f"`{' '.join(argv)}` failed: {err or done.returncode}")

    def netem(self, slots: Sequence[Slot], delay_ms: int, loss_pct: float) -> None:
        for slot in slots:
            self._qdisc(netem_command(slot, delay_ms, loss_pct), "netem")

    def shape(self, slots: Sequence[Slot], rate_kbit: int) -> None:
        for slot in slots:
            self._qdisc(shape_command(slot, rate_kbit), "tbf")

    def clear_netem(self, slots: Sequence[Slot]) -> None:
        for slot in slots:
            self.run(netem_clear_command(slot), check=False)


def teardown(prefix: str) -> list[str]:
    """Remove every namespace and link carrying ``prefix``: first SIGKILL whatever still runs
    in those namespaces, then the namespaces, then the host-side veths and the bridge. Works
    without any record of what was made (after a crash). Returns what was removed."""
    if unavailable_reason() is not None:
        return []
    net = Netns(NetPlan(prefix=prefix))
    removed: list[str] = []
    for ns in ours_netns(net.netns_names(), prefix):
        for pid in net.pids_in(ns):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        net.run(["ip", "netns", "del", ns], check=False)
        removed.append(f"netns {ns}")
    for link in ours_links(net.link_names(), prefix):
        net.run(["ip", "link", "del", link], check=False)
        removed.append(f"link {link}")
    if removed:
        log.info("removed %s", ", ".join(removed))
    return removed
