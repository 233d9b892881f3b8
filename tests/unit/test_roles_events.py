"""Progress events (contract C) and the resume journal: formats, atomic writes, reloads."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from decentralml.core.errors import ConfigError, InputError
from decentralml.core.roles.events import EventFollower, EventLog, ProgressEvent, read_events
from decentralml.core.roles.learning import rule_text, updates_digest
from decentralml.core.roles.state import Journal, default_state_dir, write_atomic

KEYS = [
    "ts",
    "role",
    "account",
    "task",
    "round",
    "phase",
    "loss",
    "accuracy",
    "samples",
    "epsilon",
    "message",
]


def test_event_json_has_exactly_the_contract_fields_and_round_trips() -> None:
    event = ProgressEvent(
        role="trainer",
        account="5Abc",
        task=3,
        round=1,
        phase="training",
        message="two\nlines",
        loss=0.5,
        accuracy=0.75,
        samples=120,
        epsilon=2.5,
        ts=1.5,
    )
    line = event.to_json()
    assert "\n" not in line
    data = json.loads(line)
    assert list(data) == KEYS
    assert data["message"] == "two lines"
    back = ProgressEvent.from_json(line)
    assert back == ProgressEvent(**{**event.__dict__, "message": "two lines"})


def test_non_finite_metrics_become_null() -> None:
    line = ProgressEvent(
        "trainer", "5A", 1, 0, "training", loss=math.nan, accuracy=math.inf
    ).to_json()
    data = json.loads(line)
    assert data["loss"] is None and data["accuracy"] is None


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1]",
        '{"role": "trainer", "account": "5A", "phase": "x"}',
        '{"role": "trainer", "account": "5A", "task": "1", "phase": "x"}',
        '{"role": "trainer", "account": "5A", "task": 1, "phase": "x", "loss": "1"}',
        '{"role": "trainer", "account": "5A", "task": 1, "phase": "x", "samples": true}',
    ],
)
def test_malformed_events_are_input_errors(line: str) -> None:
    with pytest.raises(InputError):
        ProgressEvent.from_json(line)


def test_event_log_writes_file_stream_and_sinks_and_a_failing_sink_is_ignored(
    tmp_path: Path,
) -> None:
    import io

    seen: list[ProgressEvent] = []

    def broken(_: ProgressEvent) -> None:
        raise RuntimeError("boom")

    stream = io.StringIO()
    path = tmp_path / "sub" / "events.jsonl"
    with EventLog(path, stream=stream, sinks=(broken, seen.append)) as log:
        log.emit(ProgressEvent("aggregator", "5A", 2, None, "waiting"))
        log.emit(ProgressEvent("aggregator", "5A", 2, 0, "aggregated", samples=10))
    assert [e.phase for e in read_events(path)] == ["waiting", "aggregated"]
    assert len(stream.getvalue().splitlines()) == 2
    assert [e.phase for e in seen] == ["waiting", "aggregated"]


def test_follower_returns_only_complete_new_lines(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    follower = EventFollower(path)
    assert follower.poll() == []
    one = ProgressEvent("verifier", "5A", 1, 0, "verifying").to_json()
    two = ProgressEvent("verifier", "5A", 1, 0, "verified").to_json()
    path.write_text(one + "\n" + two[:10])
    assert [e.phase for e in follower.poll()] == ["verifying"]
    with path.open("a") as fh:
        fh.write(two[10:] + "\ngarbage\n")
    assert [e.phase for e in follower.poll()] == ["verified"]
    assert follower.poll() == []


def test_journal_persists_and_reloads(tmp_path: Path) -> None:
    j = Journal(tmp_path / "s", role="trainer", task=4, account="5A")
    j.update_round(0, status="uploaded", samples=10)
    j.update_round(0, status="submitted")
    j.set_meta("joined", True)
    again = Journal(tmp_path / "s", role="trainer", task=4, account="5A")
    assert again.round(0) == {"status": "submitted", "samples": 10}
    assert again.meta("joined") is True
    assert again.rounds() == {0: {"status": "submitted", "samples": 10}}
    assert not list((tmp_path / "s").glob(".journal.json.*")), "temporary files left behind"


def test_journal_of_another_role_or_a_torn_file_is_refused(tmp_path: Path) -> None:
    Journal(tmp_path / "s", role="trainer", task=4, account="5A").update_round(0, status="x")
    with pytest.raises(ConfigError, match="another role"):
        Journal(tmp_path / "s", role="verifier", task=4, account="5A")
    (tmp_path / "s" / "journal.json").write_text('{"rounds": ')
    with pytest.raises(ConfigError, match="unreadable"):
        Journal(tmp_path / "s", role="trainer", task=4, account="5A")


def test_write_atomic_replaces_whole_content(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    write_atomic(target, b"old")
    write_atomic(target, b"new content")
    assert target.read_bytes() == b"new content"
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_default_state_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DECENTRALML_STATE", str(tmp_path))
    assert default_state_dir("trainer", 7, "5A") == tmp_path / "roles" / "trainer-7-5A"
    monkeypatch.delenv("DECENTRALML_STATE")
    assert default_state_dir("verifier", 1, "5B") == Path(".state/roles/verifier-1-5B")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("FedAvg", "fedavg"),
        ("CoordinateMedian", "median"),
        ({"TrimmedMean": 100_000_000}, "trimmed:10"),
        ({"TrimmedMean": 125_000_000}, "trimmed:12.5"),
        ({"NormClippedFedAvg": 1_000_000}, "clip:1000000"),
    ],
)
def test_chain_rule_to_library_grammar(value: object, text: str) -> None:
    assert rule_text(value) == text


def test_unknown_rule_and_updates_digest() -> None:
    with pytest.raises(InputError):
        rule_text({"Krum": 1})
    # blake2-256 of the concatenation, as the pallet computes it.
    import hashlib

    a, b = b"\x01" * 32, b"\x02" * 32
    assert updates_digest([a, b]) == hashlib.blake2b(a + b, digest_size=32).digest()
    assert updates_digest([a, b]) != updates_digest([b, a])
