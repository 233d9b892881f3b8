"""CLI behaviour that needs no node and no IPFS: parsing, config, keystore, errors, start-up."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from decentralml.core.cli import EXIT_KEY, EXIT_USAGE, main

DATA = Path(__file__).parent / "data"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("DECENTRALML_KEYSTORE", str(tmp_path / "ks"))
    monkeypatch.delenv("DECENTRALML_PASSWORD", raising=False)
    monkeypatch.delenv("DECENTRALML_CONFIG", raising=False)
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_and_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    assert "task" in capsys.readouterr().out
    assert (
        run(
            capsys,
        )[0]
        == EXIT_USAGE
    )


def test_usage_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["model", "show", "not-a-number"])
    assert info.value.code == EXIT_USAGE
    assert "invalid int value" in capsys.readouterr().err


def test_config_show_hides_secrets(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECENTRALML_IPFS_AUTH", "user:topsecret")
    code, out, _ = run(capsys, "config", "show")
    assert code == 0 and "topsecret" not in out and "********" in out
    code, out, _ = run(capsys, "--json", "config", "show")
    data = json.loads(out)
    assert data["ipfs"]["auth"] == "********"
    assert data["chain"]["url"] == "ws://127.0.0.1:9944"
    code, out, _ = run(capsys, "--url", "ws://10.0.0.1:9944", "config", "show", "--json")
    assert json.loads(out)["chain"]["url"] == "ws://10.0.0.1:9944"


def test_bad_config_is_one_line_and_nonzero(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = env / "bad.toml"
    bad.write_text("[chain]\nurl = 'nope'\n")
    code, out, err = run(capsys, "--config", str(bad), "--json", "config", "show")
    assert code != 0
    assert err.startswith("error: ") and err.count("\n") == 1
    assert json.loads(out)["error"]["kind"] == "config"


def test_account_lifecycle(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pw = env / "pw"
    pw.write_text("hunter22\n")
    code, out, err = run(capsys, "--json", "account", "new", "alice2", "--password-file", str(pw))
    assert code == 0, err
    created = json.loads(out)
    assert len(created["mnemonic"].split()) == 12
    code, out, _ = run(capsys, "--json", "account", "list")
    assert [a["name"] for a in json.loads(out)["accounts"]] == ["alice2"]
    exported = env / "alice2.json"
    code, _, err = run(
        capsys, "account", "export", "alice2", "-o", str(exported), "--password-file", str(pw)
    )
    assert code == 0, err
    assert stat.S_IMODE(exported.stat().st_mode) == 0o600
    assert json.loads(exported.read_text())["address"] == created["address"]
    # Wrong password: exit code of key errors, one line, nothing written.
    bad = env / "bad"
    bad.write_text("nope")
    code, _, err = run(
        capsys,
        "account",
        "export",
        "alice2",
        "-o",
        str(env / "x.json"),
        "--password-file",
        str(bad),
    )
    assert code == EXIT_KEY and "wrong password" in err and not (env / "x.json").exists()
    code, out, _ = run(capsys, "account", "show", "alice2")
    assert out.strip() == created["address"]
    code, out, _ = run(capsys, "account", "show", "//Alice")
    assert out.strip() == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    code, _, err = run(capsys, "account", "show", "nobody")
    assert code == EXIT_KEY and "no account 'nobody'" in err
    code, _, _ = run(capsys, "account", "remove", "alice2")
    assert code == 0
    code, out, _ = run(capsys, "--json", "account", "list")
    assert json.loads(out)["accounts"] == []


def test_account_import_pjs_and_mnemonic(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DECENTRALML_PASSWORD", "correct horse battery")
    code, out, err = run(
        capsys, "--json", "account", "import", "--json-file", str(DATA / "pjs-sr25519.json")
    )
    assert code == 0, err
    assert json.loads(out)["name"] == "pjs-fixture"
    mnemonic = env / "m.txt"
    mnemonic.write_text("bottom drive obey lake curtain smoke basket hold race lonely fit walk\n")
    code, out, err = run(
        capsys, "--json", "account", "import", "devphrase", "--mnemonic-file", str(mnemonic)
    )
    assert code == 0, err
    assert json.loads(out)["address"] == "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"
    garbage = env / "g.json"
    garbage.write_text("{}")
    code, out, err = run(capsys, "--json", "account", "import", "--json-file", str(garbage))
    assert code == EXIT_KEY and json.loads(out)["error"]["type"] == "InvalidKeyFile"


def test_missing_password_without_a_terminal(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = run(capsys, "account", "new", "x")
    assert code == EXIT_KEY and "--password-file" in err


def test_malformed_amount_fails_before_any_connection(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Port 1 on localhost: nothing listens; the amount is rejected first (exit 2, no retry wait).
    code, _, err = run(
        capsys,
        "--url",
        "ws://127.0.0.1:1",
        "transfer",
        "//Bob",
        "1.2.3",
        "--planck",
        "--from",
        "//Alice",
    )
    assert code == EXIT_USAGE and "malformed amount" in err


def test_help_does_not_import_heavy_modules() -> None:
    probe = (
        "import sys; from decentralml.core.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('tensorflow', 'substrateinterface', 'requests', 'textual', 'rich') "
        "if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ},
    )
    assert result.stderr.strip().endswith("[]")


def test_core_never_imports_ui_or_tensorflow_at_import_time() -> None:
    probe = (
        "import sys, decentralml.core.cli.commands, decentralml.core.chain.decentralml, "
        "decentralml.core.storage.kubo, decentralml.core.keys\n"
        "sys.stderr.write(repr([m for m in ('tensorflow', 'textual', 'rich') if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stderr.strip().endswith("[]")


def test_model_register_refuses_bad_codes_before_connecting(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Licence and jurisdictions are checked against the SPDX and ISO 3166-1 lists before the
    keystore, the node or IPFS (all unreachable here) is touched."""
    spec = env / "arch.json"
    spec.write_text("{}")
    base = ["--url", "ws://127.0.0.1:9", "--ipfs-api", "http://127.0.0.1:9", "model", "register"]
    base += [
        "--name",
        "m",
        "--architecture",
        str(spec),
        "--weights",
        str(spec),
        "--from",
        "//Alice",
    ]
    code, _, err = run(capsys, *base, "--licence", "Apache2")
    assert code == EXIT_USAGE and "did you mean Apache-2.0" in err, err
    code, _, err = run(
        capsys, *base, "--licence", "MIT", "--jurisdiction", "DE", "--jurisdiction", "XX"
    )
    assert code == EXIT_USAGE and "invalid jurisdiction 'XX'" in err, err


def test_every_command_has_its_handler() -> None:
    """Each command's ``handler`` names a function of ``cli.commands`` (handlers live in
    several modules re-exported there; a module left out breaks its commands only at run)."""
    import argparse

    from decentralml.core.cli import build_parser, commands

    def handlers(parser: argparse.ArgumentParser) -> list[str]:
        found = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for child in action.choices.values():
                    handler = child.get_default("handler")
                    found += [handler] if handler else handlers(child)
        return found

    names = handlers(build_parser())
    assert len(names) > 50 and "task_create" in names
    missing = [n for n in names if not callable(getattr(commands, n, None))]
    assert missing == []
