"""Accounts: dev keys on dev chains only, and an encrypted keystore.

The keystore is a directory (mode 0700) of Polkadot-JS account files (``<name>.json``,
mode 0600): the exact JSON that Polkadot-JS Apps exports (scrypt + xsalsa20-poly1305,
``pkcs8`` content), so files move both ways without conversion. Passwords are used to
decrypt and then dropped: never stored, never logged, never part of an error message.
Mnemonics are shown once at creation and never written.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import (
    DevAccountRefused,
    InputError,
    InvalidKeyFile,
    UnknownAccount,
    WrongPassword,
)
from .types import Address, ChainType

if TYPE_CHECKING:
    from substrateinterface import Keypair

log = logging.getLogger(__name__)

SS58_FORMAT = 42
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def is_dev_uri(spec: str) -> bool:
    """``//Alice``, ``//Bob//stash``, ``//AnyName``: keys derived from the public dev phrase."""
    return spec.startswith("//")


def dev_keypair(uri: str, chain_type: ChainType | str, *, policy: str = "auto") -> Keypair:
    """A well-known development key, refused unless the chain is a Development chain.

    The dev phrase is public: anyone can sign with these keys, so using them on any other
    chain would be a mistake (or an attack on a careless script).
    """
    from substrateinterface import Keypair

    kind = chain_type.value if isinstance(chain_type, ChainType) else str(chain_type)
    if policy == "never" or kind != ChainType.DEVELOPMENT.value:
        raise DevAccountRefused(
            f"dev account {uri} refused: the chain's type is {kind!r}, dev keys are only allowed "
            "on a Development chain"
            + (" (and chain.allow_dev_accounts is 'never')" if policy == "never" else "")
        )
    return Keypair.create_from_uri(uri, ss58_format=SS58_FORMAT)


@dataclass(frozen=True)
class Account:
    name: str
    address: Address
    crypto: str
    path: Path

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "crypto": self.crypto}


def _validate_pjs(data: Any, origin: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise InvalidKeyFile(f"{origin}: not a Polkadot-JS account file (expected a JSON object)")
    encoding = data.get("encoding")
    if not isinstance(data.get("encoded"), str) or not isinstance(encoding, dict):
        raise InvalidKeyFile(f"{origin}: not a Polkadot-JS account file (no encoded/encoding)")
    content = encoding.get("content", [])
    kinds = encoding.get("type", [])
    if not isinstance(content, list) or "pkcs8" not in content:
        raise InvalidKeyFile(f"{origin}: unsupported key content {content!r} (need pkcs8)")
    if not isinstance(kinds, list) or "xsalsa20-poly1305" not in kinds:
        raise InvalidKeyFile(
            f"{origin}: the key is not encrypted (encoding type {kinds!r}); refusing to import "
            "an unencrypted key"
        )
    if not isinstance(data.get("address"), str):
        raise InvalidKeyFile(f"{origin}: no address")
    return data


_SCRYPT_HEADER = 32 + 3 * 4
_NONCE = 24
_MAX_SCRYPT_N = 1 << 20


def _decode_pjs(data: dict[str, Any], password: str, origin: str) -> tuple[bytes, bytes, str]:
    """Decrypt a Polkadot-JS v3 account file: (private key, public key, crypto).

    substrate-interface 1.8.1 has a decoder, but it caps scrypt memory at 64 MiB, so it cannot
    open the files current Polkadot-JS writes (N = 2**17, 128 MiB), and reports that as a
    wrong password. This decoder follows @polkadot/util-crypto (scrypt -> xsalsa20-poly1305 ->
    PKCS#8) with a bounded N so a hostile file cannot demand unbounded memory.
    """
    import base64
    import hashlib

    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox
    from substrateinterface.utils.encrypted_json import decode_pkcs8

    if data["encoding"].get("version") != "3":
        raise InvalidKeyFile(
            f"{origin}: unsupported account file version {data['encoding'].get('version')!r}"
        )
    try:
        raw = base64.b64decode(data["encoded"], validate=True)
    except ValueError:
        raise InvalidKeyFile(f"{origin}: 'encoded' is not base64") from None
    if "scrypt" not in data["encoding"]["type"] or len(raw) < _SCRYPT_HEADER + _NONCE + 16:
        raise InvalidKeyFile(f"{origin}: unsupported key derivation (need scrypt)")
    salt = raw[:32]
    n, p, r = (int.from_bytes(raw[32 + 4 * i : 36 + 4 * i], "little") for i in range(3))
    if n < 2 or n & (n - 1) or n > _MAX_SCRYPT_N or not 1 <= p <= 4 or not 1 <= r <= 16:
        raise InvalidKeyFile(f"{origin}: unsupported scrypt parameters (N={n}, p={p}, r={r})")
    key = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32, maxmem=1 << 30)
    body = raw[_SCRYPT_HEADER:]
    try:
        plain = SecretBox(key).decrypt(body[_NONCE:], body[:_NONCE])
    except CryptoError:
        raise WrongPassword(f"wrong password for {origin}") from None
    try:
        secret, public = decode_pkcs8(plain)
    except ValueError:
        raise InvalidKeyFile(f"{origin}: the decrypted key is not PKCS#8") from None
    content = data["encoding"]["content"]
    crypto = str(content[1]) if len(content) > 1 else "sr25519"
    return secret, public, crypto


def _decrypt(data: dict[str, Any], password: str, origin: str) -> Keypair:
    from substrateinterface import Keypair, KeypairType

    secret, public, crypto = _decode_pjs(data, password, origin)
    try:
        if crypto == "sr25519":
            from sr25519 import pair_from_ed25519_secret_key

            converted_public, secret = pair_from_ed25519_secret_key(secret)
            if converted_public != public:
                raise InvalidKeyFile(f"{origin}: inconsistent sr25519 key")
            keypair = Keypair.create_from_private_key(
                secret, public, ss58_format=SS58_FORMAT, crypto_type=KeypairType.SR25519
            )
        elif crypto == "ed25519":
            keypair = Keypair.create_from_private_key(
                secret[:32], public, ss58_format=SS58_FORMAT, crypto_type=KeypairType.ED25519
            )
        else:
            raise InvalidKeyFile(f"{origin}: unsupported key type {crypto!r} (sr25519 or ed25519)")
    except (ValueError, TypeError) as exc:
        raise InvalidKeyFile(f"{origin}: cannot decode the key ({type(exc).__name__})") from None
    declared = data.get("address", "")
    try:
        declared_pk = Keypair(ss58_address=declared).public_key
    except (ValueError, TypeError):
        raise InvalidKeyFile(f"{origin}: invalid address {declared!r}") from None
    if declared_pk != keypair.public_key:
        raise InvalidKeyFile(f"{origin}: the key does not match the file's address {declared}")
    return keypair


def write_private(path: Path, data: dict[str, Any]) -> None:
    """Write a file readable by its owner only (created 0600, never world-readable in between)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
        handle.write("\n")
    os.chmod(tmp, 0o600)
    tmp.replace(path)


class Keystore:
    """Encrypted accounts in a directory of Polkadot-JS JSON files."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).expanduser()

    def _ensure_dir(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(self.root, 0o700)

    def _path(self, name: str) -> Path:
        if not _NAME_RE.match(name):
            raise InputError(
                f"invalid account name {name!r}: use 1-64 letters, digits, '.', '_' or '-'"
            )
        return self.root / f"{name}.json"

    # ---- listing ------------------------------------------------------------------------
    def list(self) -> list[Account]:
        if not self.root.is_dir():
            return []
        accounts = []
        for path in sorted(self.root.glob("*.json")):
            try:
                data = json.loads(path.read_text())
                content = data["encoding"]["content"]
                crypto = content[1] if len(content) > 1 else "sr25519"
                accounts.append(Account(path.stem, str(data["address"]), str(crypto), path))
            except (OSError, ValueError, KeyError, TypeError, IndexError):
                log.warning("skipping unreadable key file %s", path)
        return accounts

    def find(self, name_or_address: str) -> Account:
        for account in self.list():
            if name_or_address in (account.name, account.address):
                return account
        where = str(self.root)
        raise UnknownAccount(f"no account {name_or_address!r} in the keystore {where}")

    def exists(self, name: str) -> bool:
        return self._path(name).exists()

    # ---- creating and importing ----------------------------------------------------------
    def _store(self, name: str, keypair: Keypair, password: str) -> Account:
        if not password:
            raise InputError("an empty password is not allowed for a stored key")
        path = self._path(name)
        if path.exists():
            raise InputError(f"an account named {name!r} already exists in {self.root}")
        self._ensure_dir()
        data = keypair.export_to_encrypted_json(password, name)
        write_private(path, data)
        log.info("stored account %s (%s)", name, keypair.ss58_address)
        return Account(name, keypair.ss58_address, "sr25519", path)

    def create(self, name: str, password: str) -> tuple[Account, str]:
        """A new sr25519 account; returns it and its mnemonic (show it once, never store it)."""
        from substrateinterface import Keypair, KeypairType

        mnemonic = Keypair.generate_mnemonic(words=12)
        keypair = Keypair.create_from_mnemonic(
            mnemonic, ss58_format=SS58_FORMAT, crypto_type=KeypairType.SR25519
        )
        return self._store(name, keypair, password), mnemonic

    def import_mnemonic(self, name: str, mnemonic: str, password: str) -> Account:
        from substrateinterface import Keypair, KeypairType

        words = " ".join(mnemonic.split())
        try:
            keypair = Keypair.create_from_mnemonic(
                words, ss58_format=SS58_FORMAT, crypto_type=KeypairType.SR25519
            )
        except (ValueError, TypeError):
            raise InputError("invalid mnemonic (expected 12-24 BIP39 words)") from None
        return self._store(name, keypair, password)

    def import_json(self, source: Path, password: str, name: str | None = None) -> Account:
        """Import a Polkadot-JS account file after checking that ``password`` decrypts it."""
        try:
            raw = source.read_text()
        except OSError as exc:
            raise InvalidKeyFile(f"cannot read {source}: {exc.strerror}") from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise InvalidKeyFile(f"{source}: not JSON") from None
        data = _validate_pjs(data, str(source))
        keypair = _decrypt(data, password, str(source))
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        name = name or str(meta.get("name") or "") or source.stem
        path = self._path(name)
        if path.exists():
            raise InputError(f"an account named {name!r} already exists in {self.root}")
        self._ensure_dir()
        stored = dict(data)
        stored["meta"] = {**meta, "name": name}
        write_private(path, stored)
        crypto = data["encoding"]["content"][1] if len(data["encoding"]["content"]) > 1 else ""
        log.info("imported account %s (%s)", name, keypair.ss58_address)
        return Account(name, keypair.ss58_address, str(crypto or "sr25519"), path)

    def export_json(self, name_or_address: str, password: str) -> dict[str, Any]:
        """The account's Polkadot-JS file, after checking the password (as Apps does)."""
        account = self.find(name_or_address)
        data = _validate_pjs(json.loads(account.path.read_text()), str(account.path))
        _decrypt(data, password, f"account {account.name!r}")
        return data

    def unlock(self, name_or_address: str, password: str) -> Keypair:
        account = self.find(name_or_address)
        try:
            data = json.loads(account.path.read_text())
        except (OSError, ValueError):
            raise InvalidKeyFile(f"{account.path}: unreadable key file") from None
        data = _validate_pjs(data, str(account.path))
        return _decrypt(data, password, f"account {account.name!r}")

    def remove(self, name: str) -> Account:
        account = self.find(name)
        account.path.unlink()
        return account
