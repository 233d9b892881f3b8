from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest
from decentralml.core.errors import (
    DevAccountRefused,
    InputError,
    InvalidKeyFile,
    UnknownAccount,
    WrongPassword,
)
from decentralml.core.keys import Keystore, dev_keypair
from decentralml.core.types import ChainType
from substrateinterface import Keypair

DATA = Path(__file__).parent / "data"
PJS_PASSWORD = "correct horse battery"
DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_dev_accounts_only_on_development_chains() -> None:
    alice = dev_keypair("//Alice", ChainType.DEVELOPMENT)
    assert alice.ss58_address == "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
    for kind in (ChainType.LIVE, ChainType.LOCAL, "Custom", "Whatever"):
        with pytest.raises(DevAccountRefused, match="only allowed on a Development chain"):
            dev_keypair("//Alice", kind)
    with pytest.raises(DevAccountRefused, match="never"):
        dev_keypair("//Alice", ChainType.DEVELOPMENT, policy="never")


def test_create_unlock_and_file_modes(tmp_path: Path) -> None:
    store = Keystore(tmp_path / "ks")
    account, mnemonic = store.create("trainer-1", "pw-1")
    assert len(mnemonic.split()) == 12
    assert mode(store.root) == 0o700
    assert mode(account.path) == 0o600
    text = account.path.read_text()
    assert "pw-1" not in text
    assert mnemonic not in text
    assert store.unlock("trainer-1", "pw-1").ss58_address == account.address
    assert store.unlock(account.address, "pw-1").ss58_address == account.address
    with pytest.raises(WrongPassword, match="wrong password"):
        store.unlock("trainer-1", "nope")
    assert [a.name for a in store.list()] == ["trainer-1"]


def test_passwords_never_reach_the_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = Keystore(tmp_path)
    store.create("a", "sup3r-secret-pw")
    with pytest.raises(WrongPassword) as info:
        store.unlock("a", "wr0ng-secret-pw")
    assert "secret" not in caplog.text
    assert "secret" not in str(info.value)


def test_mnemonic_import_gives_the_same_account(tmp_path: Path) -> None:
    store = Keystore(tmp_path)
    account = store.import_mnemonic("dev", f"  {DEV_PHRASE}\n", "pw")
    assert account.address == Keypair.create_from_mnemonic(DEV_PHRASE).ss58_address
    with pytest.raises(InputError, match="invalid mnemonic"):
        store.import_mnemonic("bad", "not a mnemonic at all", "pw")
    with pytest.raises(InputError, match="already exists"):
        store.import_mnemonic("dev", DEV_PHRASE, "pw")
    with pytest.raises(InputError, match="empty password"):
        store.import_mnemonic("other", DEV_PHRASE, "")


@pytest.mark.parametrize(
    ("file", "crypto"), [("pjs-sr25519.json", "sr25519"), ("pjs-ed25519.json", "ed25519")]
)
def test_import_polkadot_js_export(tmp_path: Path, file: str, crypto: str) -> None:
    source = DATA / file
    expected = json.loads(source.read_text())["address"]
    store = Keystore(tmp_path)
    with pytest.raises(WrongPassword):
        store.import_json(source, "not the password")
    assert store.list() == []  # nothing half-imported
    account = store.import_json(source, PJS_PASSWORD)
    assert account.address == expected
    assert account.crypto == crypto
    assert mode(account.path) == 0o600
    keypair = store.unlock(account.name, PJS_PASSWORD)
    assert keypair.ss58_address == expected
    # The exported file is the Polkadot-JS file, readable by Polkadot-JS again.
    exported = store.export_json(account.name, PJS_PASSWORD)
    original = json.loads(source.read_text())
    assert exported["encoded"] == original["encoded"]
    assert exported["encoding"] == original["encoding"]
    assert exported["address"] == original["address"]


def test_sr25519_derivation_matches_polkadot_js() -> None:
    pjs = json.loads((DATA / "pjs-sr25519.json").read_text())
    assert Keypair.create_from_uri(f"{DEV_PHRASE}//pjs-fixture").ss58_address == pjs["address"]


def test_export_then_reimport(tmp_path: Path) -> None:
    a = Keystore(tmp_path / "a")
    account, _ = a.create("x", "pw")
    data = a.export_json("x", "pw")
    with pytest.raises(WrongPassword):
        a.export_json("x", "bad")
    exported = tmp_path / "x.json"
    exported.write_text(json.dumps(data))
    b = Keystore(tmp_path / "b")
    assert b.import_json(exported, "pw", name="y").address == account.address


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"encoded": "abc"}', "no encoded/encoding"),
        (
            '{"encoded": "abc", "encoding": {"content": ["pkcs8", "sr25519"], "type": ["none"]}, "address": "x"}',
            "not encrypted",
        ),
    ],
)
def test_invalid_key_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidKeyFile, match=message):
        Keystore(tmp_path / "ks").import_json(path, "pw")


def test_tampered_key_file(tmp_path: Path) -> None:
    data = json.loads((DATA / "pjs-sr25519.json").read_text())
    data["address"] = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"  # Alice's, not this key's
    path = tmp_path / "t.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidKeyFile, match="does not match"):
        Keystore(tmp_path / "ks").import_json(path, PJS_PASSWORD)
    data = json.loads((DATA / "pjs-sr25519.json").read_text())
    data["encoded"] = data["encoded"][:-8] + "AAAAAAAA"
    path.write_text(json.dumps(data))
    with pytest.raises((WrongPassword, InvalidKeyFile)):
        Keystore(tmp_path / "ks").import_json(path, PJS_PASSWORD)


def test_unknown_account_and_bad_names(tmp_path: Path) -> None:
    store = Keystore(tmp_path)
    with pytest.raises(UnknownAccount, match="no account 'ghost'"):
        store.unlock("ghost", "pw")
    with pytest.raises(InputError, match="invalid account name"):
        store.create("../escape", "pw")
    with pytest.raises(InputError, match="invalid account name"):
        store.create("", "pw")
