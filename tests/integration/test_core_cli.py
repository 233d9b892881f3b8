"""The `decentralml` command end to end: the installed console script, a real node-decentralml
--dev and a real Kubo daemon, with a temporary keystore and config. Every command runs at
least once here or in test_core_cli_protocol.py; bad input must exit non-zero with one line
and leave nothing half-done on chain."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from .clirun import Run, js
from .devnode import DevNode, free_port
from .kubo import KuboDaemon

pytestmark = [pytest.mark.chain, pytest.mark.ipfs]

UNIT = 10**12
DATA = Path(__file__).parents[1] / "unit" / "data"


def nonce(cli: Run, who: str) -> int:
    return int(js(cli("--json", "balance", who))["nonce"])


@pytest.fixture(scope="module")
def password_file(cli_home: Path) -> Path:
    path = cli_home / "pw.txt"
    path.write_text("cli-test-password\n")
    return path


# ---- configuration and chain views ------------------------------------------------------------
def test_config_and_chain_views(cli: Run, dev_node: DevNode, kubo: KuboDaemon) -> None:
    shown = js(
        cli("--json", "config", "show", extra_env={"DECENTRALML_IPFS_AUTH": "u:very-secret"})
    )
    assert shown["chain"]["url"] == dev_node.ws_url
    assert shown["ipfs"]["auth"] == "********"
    assert (
        "very-secret"
        not in cli("config", "show", extra_env={"DECENTRALML_IPFS_AUTH": "u:very-secret"}).stdout
    )
    assert js(cli("--json", "config", "path"))["path"].endswith("decentralml/config.toml")
    info = js(cli("--json", "chain", "info"))
    assert info["chain_type"] == "Development" and info["token_symbol"] == "DML"
    calls = js(cli("--json", "chain", "calls", "DecentralMl"))["calls"]
    assert {"register_model", "retire_model"} <= {c["name"] for c in calls}
    assert "transfer_keep_alive" in cli("chain", "calls", "Balances").stdout
    heads = [
        json.loads(line)
        for line in cli("--json", "chain", "watch", "--count", "2").stdout.splitlines()
    ]
    assert len(heads) == 2 and heads[1]["number"] > heads[0]["number"]
    events = cli(
        "--json", "chain", "watch", "--events", "--pallet", "System", "--count", "1"
    ).stdout
    assert json.loads(events.splitlines()[0])["pallet"] == "System"
    assert cli("--json", "content", "version").stdout
    assert "0." in cli("content", "version").stdout


# ---- accounts ---------------------------------------------------------------------------------
def test_accounts(cli: Run, cli_home: Path, password_file: Path) -> None:
    created = js(cli("--json", "account", "new", "trainer", "--password-file", str(password_file)))
    assert len(created["mnemonic"].split()) == 12
    assert (
        "mnemonic"
        in cli("account", "new", "trainer2", "--password-file", str(password_file)).stdout
    )
    listed = js(cli("--json", "account", "list"))["accounts"]
    assert {a["name"] for a in listed} >= {"trainer", "trainer2"}
    assert "trainer2" in cli("account", "list").stdout
    assert cli("account", "show", "trainer").stdout.strip() == created["address"]
    out = cli_home / "trainer.json"
    cli("account", "export", "trainer", "-o", str(out), "--password-file", str(password_file))
    assert json.loads(out.read_text())["address"] == created["address"]
    assert (
        json.loads(
            cli("account", "export", "trainer", "--password-file", str(password_file)).stdout
        )["address"]
        == created["address"]
    )
    cli("account", "remove", "trainer2")
    imported = js(
        cli(
            "--json",
            "account",
            "import",
            "pjs",
            "--json-file",
            str(DATA / "pjs-sr25519.json"),
            extra_env={"DECENTRALML_PASSWORD": "correct horse battery"},
        )
    )
    assert imported["address"] == json.loads((DATA / "pjs-sr25519.json").read_text())["address"]
    phrase = cli_home / "phrase.txt"
    phrase.write_text("bottom drive obey lake curtain smoke basket hold race lonely fit walk")
    cli(
        "account",
        "import",
        "phrase",
        "--mnemonic-file",
        str(phrase),
        "--password-file",
        str(password_file),
    )
    from_stdin = js(
        cli(
            "--json",
            "account",
            "import",
            "stdin-phrase",
            "--mnemonic-file",
            "-",
            "--password-file",
            str(password_file),
            input_=phrase.read_text() + "\n",
        )
    )
    assert from_stdin["address"] == "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV"


def test_keystore_account_signs_and_wrong_password_sends_nothing(
    cli: Run, password_file: Path, cli_home: Path
) -> None:
    address = js(cli("--json", "account", "new", "payer", "--password-file", str(password_file)))[
        "address"
    ]
    cli("transfer", address, "10", "--from", "//Alice")
    before = js(cli("--json", "balance", "payer"))
    bad = cli_home / "bad-pw"
    bad.write_text("not it")
    proc = cli(
        "--json", "transfer", "//Bob", "1", "--from", "payer", "--password-file", str(bad), ok=False
    )
    assert proc.returncode == 6 and "wrong password" in proc.stderr
    assert js(proc)["error"]["type"] == "WrongPassword"
    assert js(cli("--json", "balance", "payer")) == before  # nothing was sent
    sent = js(
        cli(
            "--json",
            "transfer",
            "//Bob",
            "1.5",
            "--from",
            "payer",
            "--password-file",
            str(password_file),
        )
    )
    assert sent["amount"] == str(1_500_000_000_000)
    assert int(js(cli("--json", "balance", "payer"))["nonce"]) == int(before["nonce"]) + 1


# ---- balances and transfers ------------------------------------------------------------------------
def test_balance_and_transfer(cli: Run) -> None:
    dest = "//CliTransferDest"
    dry = js(cli("--json", "transfer", dest, "2", "--from", "//Alice", "--dry-run"))
    assert dry["dry_run"] is True and int(dry["fee_estimate"]) > 0
    assert js(cli("--json", "balance", dest))["free"] == "0"
    sent = js(cli("--json", "transfer", dest, "2", "--from", "//Alice"))
    assert sent["dry_run"] is False and int(sent["receipt"]["fee"]) > 0
    assert any(
        e["pallet"] == "Balances" and e["event"] == "Transfer" for e in sent["receipt"]["events"]
    )
    shown = cli("balance", dest).stdout
    assert "2 DML" in shown
    assert js(cli("--json", "balance", dest))["free"] == str(2 * UNIT)
    cli("transfer", dest, "1000", "--planck", "--from", "//Alice")
    assert js(cli("--json", "balance", dest))["free"] == str(2 * UNIT + 1000)
    text = cli("transfer", dest, "0.5", "--from", "//Alice")
    assert "included in block" in text.stdout and "fee estimate" in text.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["transfer", "//Bob", "1,5", "--from", "//Alice"], 2, "malformed amount"),
        (["transfer", "//Bob", "-1", "--from", "//Alice"], 2, "malformed amount"),
        (["transfer", "//Bob", "1", "--from", "ghost"], 6, "no account 'ghost'"),
        (["transfer", "nonsense!", "1", "--from", "//Alice"], 6, "no account 'nonsense!'"),
        (["balance", "ghost"], 6, "no account"),
        (["model", "show", "999999"], 2, "no model with id 999999"),
        (["asset", "show", "999999"], 2, "no asset"),
        (
            ["tx", "DecentralMl", "no_such_call", "--from", "//Alice"],
            1,
            "no call DecentralMl.no_such_call",
        ),
        (
            ["tx", "Balances", "transfer_keep_alive", "--args", "{bad json", "--from", "//Alice"],
            2,
            "invalid JSON",
        ),
        (["query", "Nope", "Nothing"], 1, "no storage Nope.Nothing"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(
    cli: Run, args: list[str], code: int, message: str
) -> None:
    alice_nonce = nonce(cli, "//Alice")
    proc = cli(*args, ok=False)
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr
    assert nonce(cli, "//Alice") == alice_nonce


def test_failed_dispatch_exits_4_with_the_pallet_error(cli: Run) -> None:
    proc = cli("--json", "transfer", "//Bob", "100000000000", "--from", "//CliPauper", ok=False)
    # //CliPauper has no funds: the pool refuses it (cannot pay fees), nothing is included.
    assert proc.returncode in (1, 4)
    cli("transfer", "//CliPoor", "1", "--from", "//Alice")
    proc = cli(
        "--json", "transfer", "//Bob", "100", "--from", "//CliPoor", "--allow-death", ok=False
    )
    assert proc.returncode in (1, 4), proc.stderr


def test_unreachable_node_and_ipfs(cli: Run, cli_home: Path) -> None:
    dead = f"ws://127.0.0.1:{free_port()}"
    proc = cli("--url", dead, "balance", "//Alice", ok=False)
    assert proc.returncode == 3 and "unreachable" in proc.stderr
    proc = cli(
        "--json", "--ipfs-api", f"http://127.0.0.1:{free_port()}", "content", "version", ok=False
    )
    assert proc.returncode == 3 and js(proc)["error"]["kind"] == "storage"


def test_invalid_key_file(cli: Run, cli_home: Path) -> None:
    bad = cli_home / "broken.json"
    bad.write_text(
        '{"encoded": "####", "encoding": {"content": ["pkcs8","sr25519"], '
        '"type": ["scrypt","xsalsa20-poly1305"], "version": "3"}, "address": "x"}'
    )
    proc = cli(
        "account",
        "import",
        "--json-file",
        str(bad),
        extra_env={"DECENTRALML_PASSWORD": "x"},
        ok=False,
    )
    assert proc.returncode == 6 and "base64" in proc.stderr


# ---- assets -------------------------------------------------------------------------------------------
def test_assets(cli: Run) -> None:
    assert any(a["id"] == 1 for a in js(cli("--json", "asset", "list"))["assets"])
    assert "DCC" in cli("asset", "list").stdout
    created = js(
        cli(
            "--json",
            "asset",
            "create",
            "4343",
            "--min-balance",
            "1",
            "--name",
            "Cli Coin",
            "--symbol",
            "CLI",
            "--decimals",
            "4",
            "--from",
            "//Bob",
        )
    )
    assert created["asset_id"] == 4343 and "metadata_receipt" in created
    shown = js(cli("--json", "asset", "show", "4343"))
    assert (shown["symbol"], shown["decimals"]) == ("CLI", 4)
    cli("asset", "mint", "4343", "//Bob", "100", "--from", "//Bob")
    cli("asset", "transfer", "4343", "//Charlie", "2.5", "--from", "//Bob")
    assert js(cli("--json", "asset", "balance", "4343", "//Charlie"))["balance"] == "25000"
    assert js(cli("--json", "balance", "//Bob", "--asset", "4343"))["balance"] == "975000"
    proc = cli("asset", "transfer", "4343", "//Charlie", "1.00001", "--from", "//Bob", ok=False)
    assert proc.returncode == 2  # 5 decimals for a 4-decimal asset
    proc = cli(
        "--json", "asset", "transfer", "4343", "//Dave", "1000", "--from", "//Charlie", ok=False
    )
    assert proc.returncode == 4
    assert js(proc)["error"]["pallet"] in ("Assets", "Token", "Arithmetic")


# ---- content and models ----------------------------------------------------------------------------
def test_content_add_get_pin(cli: Run, cli_home: Path) -> None:
    src = cli_home / "blob.bin"
    src.write_bytes(os.urandom(700_000))
    added = js(cli("--json", "content", "add", str(src)))
    assert (
        added["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest() and added["pinned"] is True
    )
    out = cli_home / "blob.out"
    cli(
        "content",
        "get",
        added["cid"],
        "--sha256",
        added["sha256"],
        "--size",
        str(added["size"]),
        "-o",
        str(out),
    )
    assert out.read_bytes() == src.read_bytes()
    bad_out = cli_home / "bad.out"
    proc = cli(
        "--json",
        "content",
        "get",
        added["cid"],
        "--sha256",
        "00" * 32,
        "--size",
        str(added["size"]),
        "-o",
        str(bad_out),
        ok=False,
    )
    assert proc.returncode == 5 and js(proc)["error"]["kind"] == "integrity"
    assert not bad_out.exists()
    unpinned = js(cli("--json", "content", "add", str(src), "--no-pin"))
    assert unpinned["pinned"] is False
    assert js(cli("--json", "content", "pin", unpinned["cid"]))["pinned"] is True


def test_models_end_to_end(cli: Run, cli_home: Path) -> None:
    arch = cli_home / "arch.json"
    arch.write_text(json.dumps({"layers": [64, 32, 10]}))
    weights = cli_home / "weights.npz"
    weights.write_bytes(os.urandom(300_000))
    reg = js(
        cli(
            "--json",
            "model",
            "register",
            "--name",
            "digits-mlp",
            "--architecture",
            str(arch),
            "--weights",
            str(weights),
            "--licence",
            "Apache-2.0",
            "--jurisdiction",
            "DE",
            "--from",
            "//Eve",
        )
    )
    model_id = reg["model_id"]
    assert reg["initial_weights"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    listed = js(cli("--json", "model", "list"))["models"]
    assert any(m["id"] == model_id and m["name"] == "digits-mlp" for m in listed)
    assert "digits-mlp" in cli("model", "list").stdout
    shown = js(cli("--json", "model", "show", str(model_id)))
    assert (
        shown["status"] == "Active"
        and shown["initial_weights"]["cid"] == reg["initial_weights"]["cid"]
    )
    out = cli_home / "fetched.npz"
    cli("model", "fetch", str(model_id), "-o", str(out))
    assert out.read_bytes() == weights.read_bytes()
    cli("model", "fetch", str(model_id), "--file", "architecture", "-o", str(cli_home / "arch.out"))
    assert js(cli("--json", "balance", "//Eve"))["holds"]
    # Only the owner may retire; the failure is the pallet's error, exit code 4.
    proc = cli("--json", "model", "retire", str(model_id), "--from", "//Ferdie", ok=False)
    assert proc.returncode == 4 and js(proc)["error"]["error"] == "NotModelOwner"
    assert "NotModelOwner" in proc.stderr
    retired = js(cli("--json", "model", "retire", str(model_id), "--from", "//Eve"))
    assert retired["model_id"] == model_id
    assert js(cli("--json", "model", "show", str(model_id)))["status"] == "Retired"


def test_register_with_ipfs_down_sends_nothing(cli: Run, cli_home: Path) -> None:
    arch = cli_home / "a2.json"
    arch.write_text("{}")
    before = nonce(cli, "//Eve")
    proc = cli(
        "--ipfs-api",
        f"http://127.0.0.1:{free_port()}",
        "model",
        "register",
        "--name",
        "x",
        "--architecture",
        str(arch),
        "--weights",
        str(arch),
        "--licence",
        "MIT",
        "--from",
        "//Eve",
        ok=False,
    )
    assert proc.returncode == 3
    assert nonce(cli, "//Eve") == before


def test_model_whose_bytes_do_not_match_the_chain_is_refused(
    cli: Run, cli_home: Path, kubo: KuboDaemon
) -> None:
    """A model registered (via the generic tx command) with a digest that is not its bytes'."""
    blob = cli_home / "honest.bin"
    blob.write_bytes(b"honest weights")
    added = js(cli("--json", "content", "add", str(blob)))
    ref = {
        "cid": "0x" + added["cid"].encode().hex(),
        "digest": "0x" + "ab" * 32,
        "size": added["size"],
    }
    calls = js(cli("--json", "chain", "calls", "DecentralMl"))["calls"]
    reg_args = {a["name"] for c in calls if c["name"] == "register_model" for a in c["args"]}
    args: dict[str, Any] = {
        "name": "0x" + b"forged".hex(),
        "architecture": ref,
        "initial_weights": ref,
    }
    if "licence" in reg_args:
        args["licence"] = {
            "terms": {"Spdx": "0x" + b"MIT".hex()},
            "commercial_use": False,
            "attribution": True,
            "share_alike": False,
        }
    if "jurisdictions" in reg_args:
        args["jurisdictions"] = [[]]  # BoundedVec: a one-field tuple struct
    sent = js(
        cli(
            "--json",
            "tx",
            "DecentralMl",
            "register_model",
            "--args",
            json.dumps(args),
            "--from",
            "//Dave",
        )
    )
    (event,) = [e for e in sent["receipt"]["events"] if e["event"] == "ModelRegistered"]
    model_id = event["attributes"]["model_id"]
    out = cli_home / "forged.out"
    proc = cli("--json", "model", "fetch", str(model_id), "-o", str(out), ok=False)
    assert proc.returncode == 5 and "sha256" in proc.stderr
    assert not out.exists()


def test_query(cli: Run) -> None:
    alice = cli("account", "show", "//Alice").stdout.strip()
    account = js(cli("--json", "query", "System", "Account", alice))
    assert int(account["value"]["data"]["free"]) > 0
    entries = js(cli("--json", "query", "DecentralMl", "Models", "--all"))["entries"]
    assert entries
    assert "nonce" in cli("query", "System", "Account", alice).stdout
