"""Configuration: a TOML file, then environment overrides, then command-line flags.

File: ``$DECENTRALML_CONFIG`` or ``$XDG_CONFIG_HOME/decentralml/config.toml``
(``~/.config/decentralml/config.toml``). Missing file = dev defaults.

.. code-block:: toml

    [chain]
    url = "ws://127.0.0.1:9944"
    era_period = 256          # blocks a signed extrinsic stays valid
    allow_dev_accounts = "auto"  # "auto": only when system_chainType is Development

    [ipfs]
    api_url = "http://127.0.0.1:5001"
    auth = ""                 # "user:secret" (basic) or "Bearer <token>"; a secret
    timeout_s = 60

    [keys]
    keystore = "~/.local/share/decentralml/keystore"

Environment overrides: ``DECENTRALML_CHAIN_URL``, ``DECENTRALML_ERA_PERIOD``,
``DECENTRALML_IPFS_API``, ``DECENTRALML_IPFS_AUTH``, ``DECENTRALML_IPFS_TIMEOUT``,
``DECENTRALML_KEYSTORE``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from .errors import ConfigError

DEFAULT_CHAIN_URL = "ws://127.0.0.1:9944"
DEFAULT_IPFS_API = "http://127.0.0.1:5001"
DEFAULT_ERA_PERIOD = 256
SECRET_MASK = "********"  # noqa: S105 - the mask shown instead of secrets


def _xdg(var: str, fallback: str, env: Mapping[str, str] | None = None) -> Path:
    value = (os.environ if env is None else env).get(var)
    return Path(value) if value else Path.home() / fallback


def default_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    explicit = env.get("DECENTRALML_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    return _xdg("XDG_CONFIG_HOME", ".config", env) / "decentralml" / "config.toml"


def default_keystore() -> Path:
    return _xdg("XDG_DATA_HOME", ".local/share") / "decentralml" / "keystore"


def home_env(
    home: Path, chain_url: str, ipfs_api: str, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of a ``decentralml`` process kept to ``home``: its config directory,
    keystore and state under it, the given node and IPFS API, and neither a config file nor a
    password inherited from ``base`` (default: this process's environment)."""
    env = {
        **(os.environ if base is None else base),
        "XDG_CONFIG_HOME": str(home / "config"),
        "DECENTRALML_KEYSTORE": str(home / "keystore"),
        "DECENTRALML_CHAIN_URL": chain_url,
        "DECENTRALML_IPFS_API": ipfs_api,
        "DECENTRALML_STATE": str(home / "state"),
    }
    env.pop("DECENTRALML_PASSWORD", None)
    env.pop("DECENTRALML_CONFIG", None)
    return env


@dataclass(frozen=True)
class ChainConfig:
    url: str = DEFAULT_CHAIN_URL
    era_period: int = DEFAULT_ERA_PERIOD
    allow_dev_accounts: str = "auto"
    """"auto" (only on a Development chain) or "never"."""


@dataclass(frozen=True)
class IpfsConfig:
    api_url: str = DEFAULT_IPFS_API
    auth: str = field(default="", repr=False)
    """Secret: "user:password" for basic auth or "Bearer <token>"."""
    timeout_s: float = 60.0


@dataclass(frozen=True)
class KeysConfig:
    keystore: Path = field(default_factory=default_keystore)


@dataclass(frozen=True)
class Config:
    chain: ChainConfig = field(default_factory=ChainConfig)
    ipfs: IpfsConfig = field(default_factory=IpfsConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    source: str = "defaults"
    """Where the values came from (file path or "defaults"), for ``config show``."""

    def redacted(self) -> dict[str, Any]:
        """The configuration as plain data with every secret masked."""
        data = asdict(self)
        data["keys"]["keystore"] = str(self.keys.keystore)
        if self.ipfs.auth:
            data["ipfs"]["auth"] = SECRET_MASK
        data["ipfs"]["api_url"] = _strip_userinfo(self.ipfs.api_url)
        data["chain"]["url"] = _strip_userinfo(self.chain.url)
        return data


def _strip_userinfo(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password or parsed.username:
        host = parsed.hostname or ""
        if parsed.port:
            host += f":{parsed.port}"
        return parsed._replace(netloc=f"{SECRET_MASK}@{host}").geturl()
    return url


def _check_url(value: str, schemes: tuple[str, ...], what: str) -> str:
    parsed = urlparse(value)
    if parsed.scheme not in schemes or not parsed.hostname:
        raise ConfigError(f"{what} {value!r} is not a {'/'.join(schemes)} URL")
    return value


def _positive_int(value: Any, what: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a whole number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{what} must be positive, got {number}")
    return number


def _positive_float(value: Any, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{what} must be positive, got {number}")
    return number


_KNOWN = {
    "chain": {"url", "era_period", "allow_dev_accounts"},
    "ipfs": {"api_url", "auth", "timeout_s"},
    "keys": {"keystore"},
}


def _from_mapping(data: Mapping[str, Any], base: Config) -> Config:
    for section, values in data.items():
        if section not in _KNOWN:
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(_KNOWN)})")
        if not isinstance(values, Mapping):
            raise ConfigError(f"[{section}] must be a table")
        unknown = set(values) - _KNOWN[section]
        if unknown:
            raise ConfigError(f"unknown key(s) in [{section}]: {', '.join(sorted(unknown))}")
    chain, ipfs, keys = base.chain, base.ipfs, base.keys
    c, i, k = data.get("chain", {}), data.get("ipfs", {}), data.get("keys", {})
    if "url" in c:
        chain = replace(chain, url=str(c["url"]))
    if "era_period" in c:
        chain = replace(chain, era_period=_positive_int(c["era_period"], "chain.era_period"))
    if "allow_dev_accounts" in c:
        chain = replace(chain, allow_dev_accounts=str(c["allow_dev_accounts"]))
    if "api_url" in i:
        ipfs = replace(ipfs, api_url=str(i["api_url"]))
    if "auth" in i:
        ipfs = replace(ipfs, auth=str(i["auth"]))
    if "timeout_s" in i:
        ipfs = replace(ipfs, timeout_s=_positive_float(i["timeout_s"], "ipfs.timeout_s"))
    if "keystore" in k:
        keys = replace(keys, keystore=Path(str(k["keystore"])).expanduser())
    return replace(base, chain=chain, ipfs=ipfs, keys=keys)


_ENV = {
    "DECENTRALML_CHAIN_URL": ("chain", "url"),
    "DECENTRALML_ERA_PERIOD": ("chain", "era_period"),
    "DECENTRALML_IPFS_API": ("ipfs", "api_url"),
    "DECENTRALML_IPFS_AUTH": ("ipfs", "auth"),
    "DECENTRALML_IPFS_TIMEOUT": ("ipfs", "timeout_s"),
    "DECENTRALML_KEYSTORE": ("keys", "keystore"),
}


def load_config(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Load the configuration: defaults < file < environment < ``overrides`` (flags).

    An explicitly given ``path`` must exist; the default path may be absent.
    """
    env = os.environ if env is None else env
    explicit = path is not None or "DECENTRALML_CONFIG" in env
    path = path if path is not None else default_config_path(env)
    config = Config()
    if path.exists():
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        config = replace(_from_mapping(data, config), source=str(path))
    elif explicit:
        raise ConfigError(f"config file {path} does not exist")

    from_env: dict[str, dict[str, Any]] = {}
    for var, (section, key) in _ENV.items():
        if env.get(var):
            from_env.setdefault(section, {})[key] = env[var]
    if from_env:
        config = _from_mapping(from_env, config)
    if overrides:
        cleaned = {s: {k: v for k, v in kv.items() if v is not None} for s, kv in overrides.items()}
        config = _from_mapping({s: kv for s, kv in cleaned.items() if kv}, config)

    _check_url(config.chain.url, ("ws", "wss", "http", "https"), "chain.url")
    _check_url(config.ipfs.api_url, ("http", "https"), "ipfs.api_url")
    if config.chain.allow_dev_accounts not in ("auto", "never"):
        raise ConfigError(
            f"chain.allow_dev_accounts must be 'auto' or 'never', "
            f"got {config.chain.allow_dev_accounts!r}"
        )
    return config
