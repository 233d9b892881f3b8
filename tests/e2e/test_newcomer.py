"""The newcomer's run command, headless: `decentralml dev run` (what scripts/run ends with) in a
tmux pane on free ports and a temporary state directory. It waits until the console shows a
finalized demo round (the demo task's row has moved past round 0 and paid a reward out of its
pool), saves the screen, quits with the console's `q`, and checks that the stack stopped with
it: no process and no port left.

The command can be swapped for the README's (`DML_RUN_COMMAND="scripts/run"`): it gets the
ports and the state directory through DML_RPC_PORT, DML_P2P_PORT, DML_IPFS_API_PORT,
DML_IPFS_GATEWAY_PORT and DECENTRALML_STATE. Screens go to $DML_ARTIFACTS (default: the test's
temporary directory).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from decentralml.core.devstack import (
    DEMO_ROUNDS,
    find_ipfs_binary,
    find_node_binary,
)
from decentralml.core.proc import free_port, port_free, processes_under

BIN = Path(sys.executable).parent
WAIT_FOR_ROUND_S = float(os.environ.get("DML_NEWCOMER_TIMEOUT", "900"))
WIDTH, HEIGHT = 100, 30
DEMO_POOL = 100 * DEMO_ROUNDS  # DCC escrowed by the demo task (core/devstack/demo.py task_terms)

ROW = re.compile(
    r"^\s*(?P<id>\d+)\s+(?P<model>\d+)\s+(?P<status>[A-Z]\w+)\s.*?"
    r"\s(?P<round>\d+)/(?P<rounds>\d+)\s.*?(?P<pool>[\d,]+(?:\.\d+)?) DCC\s*$"
)


@dataclass(frozen=True)
class TaskRow:
    id: int
    status: str
    round: int
    rounds: int
    pool: float


def task_rows(screen: str) -> list[TaskRow]:
    """Rows of the console's task table (ID MODEL STATUS ... ROUND ... POOL)."""
    rows = []
    for line in screen.splitlines():
        m = ROW.match(line)
        if m:
            rows.append(
                TaskRow(
                    int(m["id"]),
                    m["status"],
                    int(m["round"]),
                    int(m["rounds"]),
                    float(m["pool"].replace(",", "")),
                )
            )
    return rows


def finalized_round_shown(screen: str) -> TaskRow | None:
    """The demo task's row once a round was finalized with rewards: the table counts rounds
    opened (``next/total``), so round 0 is finalized when it shows 2 or more, and the reward
    was paid when the pool dropped below what the demo escrowed."""
    for row in task_rows(screen):
        if row.rounds == DEMO_ROUNDS and row.round >= 2 and row.pool < DEMO_POOL:
            return row
    return None


def test_screen_parsing() -> None:
    """The detector on a screen captured from the console (and on ones it must reject)."""
    header = "    ID MODEL STATUS      REWARD/ROUND   ROUND TRAINERS       STAKE        POOL"
    done = "     0     0 Running          100 DCC    2/20      3/3       1 DCC    1900.000000000001 DCC"
    fresh = "     0     0 Running          100 DCC    1/20      3/3       1 DCC         2000 DCC"
    failed = "     0     0 Running          100 DCC    2/20      3/3       1 DCC         2000 DCC"
    assert finalized_round_shown("\n".join([header, done])) == TaskRow(
        0, "Running", 2, 20, 1900.000000000001
    )
    assert finalized_round_shown("\n".join([header, fresh])) is None
    assert finalized_round_shown("\n".join([header, failed])) is None  # no reward: a failed round
    assert finalized_round_shown(header) is None


class Tmux:
    """One private tmux server (its own socket) with one session."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.socket = f"dml-{name}-{os.getpid()}"
        self.env = env

    def tmux(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=check,
        )

    def start(self, command: list[str], cwd: Path) -> None:
        self.tmux(
            "new-session", "-d", "-s", "main", "-x", str(WIDTH), "-y", str(HEIGHT),
            "-c", str(cwd), shlex.join(command),
        )  # fmt: skip
        self.tmux("set-option", "-t", "main", "remain-on-exit", "on")
        # No Escape-key delay: "Escape q" must not arrive as Alt+q.
        self.tmux("set-option", "-s", "escape-time", "0")

    def screen(self, ansi: bool = False) -> str:
        # -J joins lines the terminal wrapped, so messages can be matched whole.
        args = ["capture-pane", "-p", "-J", "-t", "main"] + (["-e"] if ansi else [])
        return self.tmux(*args).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def dead(self) -> int | None:
        """The pane's exit status once its command ended, else None."""
        out = self.tmux("display-message", "-p", "-t", "main", "#{pane_dead} #{pane_dead_status}")
        dead, _, status = out.stdout.strip().partition(" ")
        return int(status or 0) if dead == "1" else None

    def kill(self) -> None:
        self.tmux("kill-server", check=False)


def save_svg(ansi: str, path: Path, title: str) -> None:
    """A picture of a captured screen (tmux's ANSI output rendered by rich), e.g. for the
    README."""
    import io

    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True, width=WIDTH, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )
    console.print(Text.from_ansi(ansi.rstrip("\n")), end="")
    console.save_svg(str(path), title=title)


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    directory = Path(os.environ.get("DML_ARTIFACTS") or tmp_path / "artifacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def run_command_env(root: Path) -> tuple[dict[str, str], Path, dict[str, int]]:
    """``(environment, state directory, ports)`` for the run command, isolated under ``root``:
    its state, config and keystore there, four free ports, and none of the caller's settings
    that would point it elsewhere. COLUMNS/LINES (pytest-xdist workers export 80x24) would
    override the pane's real size: the console would draw 80 columns in a 100-column pane and
    cut off the pool column."""
    state = root / "state"
    free: set[int] = set()
    while len(free) < 4:
        free.add(free_port())
    rpc, p2p, api, gateway = sorted(free)
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "DECENTRALML_STATE": str(state),
        "DML_RPC_PORT": str(rpc),
        "DML_P2P_PORT": str(p2p),
        "DML_IPFS_API_PORT": str(api),
        "DML_IPFS_GATEWAY_PORT": str(gateway),
        "XDG_CONFIG_HOME": str(root / "config"),
        "DECENTRALML_KEYSTORE": str(root / "keystore"),
        "TERM": "xterm-256color",
    }
    for var in (
        "DECENTRALML_CONFIG",
        "DECENTRALML_CHAIN_URL",
        "DECENTRALML_IPFS_API",
        "TMUX",
        "COLUMNS",
        "LINES",
    ):
        env.pop(var, None)
    return env, state, {"rpc": rpc, "p2p": p2p, "ipfs_api": api, "ipfs_gateway": gateway}


def stop_stack(env: dict[str, str], state: Path) -> None:
    """``decentralml dev down`` for whatever a run command left in ``state``."""
    subprocess.run(
        [str(BIN / "decentralml"), "dev", "down", "--state-dir", str(state)],
        env=env,
        capture_output=True,
        timeout=120,
    )


@pytest.fixture
def newcomer(tmp_path: Path) -> Iterator[tuple[Tmux, Path, dict[str, int]]]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (scripts/setup installs it)")
    if find_node_binary() is None or find_ipfs_binary() is None:
        pytest.fail("node-decentralml or Kubo missing: run scripts/setup and scripts/build-node")
    env, state, ports = run_command_env(tmp_path)
    tmux = Tmux("newcomer", env)
    try:
        yield tmux, state, ports
    finally:
        tmux.kill()
        stop_stack(env, state)


def _diagnostics(tmux: Tmux, state: Path) -> str:
    status = subprocess.run(
        [str(BIN / "decentralml"), "dev", "status", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return f"--- screen ---\n{tmux.screen()}\n--- dev status ---\n{status}"


# Its own deadline (WAIT_FOR_ROUND_S) reports the console's screen and the stack's logs; the
# suite-wide 300 s would cut it short without them on a loaded CI machine.
@pytest.mark.timeout(WAIT_FOR_ROUND_S + 300)
def test_run_command_shows_a_finalized_round_and_leaves_nothing(
    newcomer: tuple[Tmux, Path, dict[str, int]], artifacts: Path
) -> None:
    tmux, state, ports = newcomer
    command = shlex.split(os.environ.get("DML_RUN_COMMAND") or f"{BIN / 'decentralml'} dev run")
    root = Path(__file__).resolve().parents[2]
    t0 = time.monotonic()
    tmux.start(command, cwd=root)

    row = None
    deadline = t0 + WAIT_FOR_ROUND_S
    while time.monotonic() < deadline:
        code = tmux.dead()
        if code is not None:
            pytest.fail(f"the run command exited ({code}) early\n{_diagnostics(tmux, state)}")
        screen = tmux.screen()
        row = finalized_round_shown(screen)
        if row is not None:
            break
        time.sleep(2)
    else:
        pytest.fail(
            f"no finalized demo round on screen within {WAIT_FOR_ROUND_S:.0f} s\n"
            + _diagnostics(tmux, state)
        )
    elapsed = time.monotonic() - t0
    (artifacts / "newcomer-tasks.txt").write_text(screen)
    save_svg(tmux.screen(ansi=True), artifacts / "newcomer-tasks.svg", "decentralml dev run")
    # The training panel, for the record (live phases of the demo's roles).
    tmux.keys("4")
    until = time.monotonic() + 30
    while time.monotonic() < until:
        training = tmux.screen()
        if "PHASE" in training and "no role processes" not in training:
            break
        time.sleep(1)
    (artifacts / "newcomer-training.txt").write_text(training)
    save_svg(tmux.screen(ansi=True), artifacts / "newcomer-training.svg", "decentralml dev run")
    print(f"finalized round visible after {elapsed:.0f} s: {row}; screens in {artifacts}")

    tmux.keys("q")
    deadline = time.monotonic() + 180
    while (code := tmux.dead()) is None:
        if time.monotonic() > deadline:
            pytest.fail("the console did not quit within 180 s of `q`\n" + tmux.screen())
        time.sleep(1)
    final = tmux.screen()
    (artifacts / "newcomer-exit.txt").write_text(final)
    assert code == 0, final
    assert "no process or port left" in final, final
    assert processes_under(state) == []
    assert all(port_free(p) for p in ports.values()), ports
    assert not list((state / "run").glob("*.pid"))


def test_closing_the_terminal_stops_the_stack(
    newcomer: tuple[Tmux, Path, dict[str, int]],
) -> None:
    """An SSH session that drops (SIGHUP to the terminal's processes) stops the stack too."""
    tmux, state, ports = newcomer
    tmux.start([str(BIN / "decentralml"), "dev", "run", "--no-demo"], cwd=Path.cwd())
    deadline = time.monotonic() + 300
    while "connected" not in tmux.screen():
        if tmux.dead() is not None or time.monotonic() > deadline:
            pytest.fail("the console did not come up\n" + _diagnostics(tmux, state))
        time.sleep(1)
    assert processes_under(state)
    tmux.kill()  # the terminal goes away: its processes get SIGHUP
    deadline = time.monotonic() + 120
    while processes_under(state) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert processes_under(state) == []
    assert all(port_free(p) for p in ports.values()), ports
