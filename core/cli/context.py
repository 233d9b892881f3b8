"""Per-invocation services of the CLI, created lazily (a command pays only for what it uses)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Config, load_config
from ..errors import InputError, KeystoreError
from ..retry import RetryPolicy

if TYPE_CHECKING:
    from substrateinterface import Keypair

    from ..chain.client import ChainClient
    from ..chain.light import LightReader
    from ..keys import Keystore
    from ..storage.kubo import KuboStore
    from ..types import FeeEstimate

PASSWORD_ENV = "DECENTRALML_PASSWORD"  # noqa: S105 - the variable name, not a password


class Context:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.json: bool = bool(getattr(args, "json", False))
        self._config: Config | None = None
        self._chain: ChainClient | None = None
        self._store: KuboStore | None = None
        self._reader: LightReader | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            overrides = {
                "chain": {"url": self.args.url},
                "ipfs": {"api_url": self.args.ipfs_api},
                "keys": {"keystore": self.args.keystore},
            }
            path = Path(self.args.config).expanduser() if self.args.config else None
            self._config = load_config(path, overrides=overrides)
        return self._config

    @property
    def chain(self) -> ChainClient:
        if self._chain is None:
            from ..chain.client import ChainClient

            # A CLI call gives up quickly on an unreachable node (about 3 s); long-running
            # clients (console, roles) use the default, patient policy.
            self._chain = ChainClient(
                self.config.chain.url,
                era_period=self.config.chain.era_period,
                policy=RetryPolicy(attempts=4, initial_delay_s=0.25, deadline_s=5.0),
            )
        return self._chain

    @property
    def reader(self) -> LightReader:
        """Read-only storage access without substrate-interface (fast start for list commands)."""
        if self._reader is None:
            from ..chain.light import LightReader

            self._reader = LightReader(
                self.config.chain.url,
                policy=RetryPolicy(attempts=4, initial_delay_s=0.25, deadline_s=5.0),
            )
        return self._reader

    @property
    def store(self) -> KuboStore:
        if self._store is None:
            from ..storage.kubo import KuboStore

            self._store = KuboStore(
                self.config.ipfs,
                policy=RetryPolicy(attempts=3, initial_delay_s=0.25, deadline_s=4.0),
            )
        return self._store

    @property
    def keystore(self) -> Keystore:
        from ..keys import Keystore

        return Keystore(self.config.keys.keystore)

    def close(self) -> None:
        if self._chain is not None:
            self._chain.close()
        if self._store is not None:
            self._store.close()
        if self._reader is not None:
            self._reader.close()

    # ---- passwords ------------------------------------------------------------------------------
    def password(self, *, confirm: bool = False, what: str = "password") -> str:
        """From --password-file, else $DECENTRALML_PASSWORD, else a terminal prompt."""
        path = getattr(self.args, "password_file", None)
        if path:
            try:
                text = Path(path).expanduser().read_text()
            except OSError as exc:
                raise InputError(f"cannot read the password file {path}: {exc.strerror}") from None
            return text.rstrip("\r\n")
        env = os.environ.get(PASSWORD_ENV)
        if env is not None:
            return env
        if not sys.stdin.isatty():
            raise KeystoreError(
                f"a {what} is needed: use --password-file FILE or set {PASSWORD_ENV}"
            )
        first = getpass.getpass(f"{what.capitalize()}: ")
        if confirm and getpass.getpass(f"Repeat the {what}: ") != first:
            raise InputError("the passwords differ")
        return first

    # ---- accounts ------------------------------------------------------------------------------
    def address_of(self, spec: str) -> str:
        """An address from an address, a keystore account name, or a dev URI (no secret needed)."""
        from substrateinterface import Keypair

        from ..keys import SS58_FORMAT, is_dev_uri

        if is_dev_uri(spec):
            return str(Keypair.create_from_uri(spec, ss58_format=SS58_FORMAT).ss58_address)
        try:
            Keypair(ss58_address=spec)
            return spec
        except (ValueError, TypeError, IndexError):
            pass
        return self.keystore.find(spec).address

    def signer(self) -> Keypair:
        from ..keys import dev_keypair, is_dev_uri

        spec = self.args.signer
        if is_dev_uri(spec):
            return dev_keypair(
                spec, self.chain.chain_type(), policy=self.config.chain.allow_dev_accounts
            )
        account = self.keystore.find(spec)  # unknown account fails before any prompt
        return self.keystore.unlock(account.name, self.password())

    # ---- amounts ------------------------------------------------------------------------------
    def native_amount(self, text: str, planck: bool) -> int:
        from ..types import parse_amount, parse_planck

        if planck:
            return parse_planck(text)
        _, decimals = self.chain.token()
        return parse_amount(text, decimals)

    def fee_gate(self, symbol_decimals: tuple[str, int] | None = None) -> Any:
        """The on_fee callback: shows the estimate; with --dry-run stops before sending."""
        from ..types import format_amount

        dry_run = bool(getattr(self.args, "dry_run", False))
        outer = self

        class Gate:
            estimate: FeeEstimate | None = None

            def __call__(self, fee: FeeEstimate) -> bool:
                self.estimate = fee
                symbol, decimals = symbol_decimals or outer.chain.token()
                if not outer.json:
                    sys.stderr.write(
                        f"fee estimate: {format_amount(fee.partial_fee, decimals, symbol)}\n"
                    )
                return not dry_run

        return Gate()
