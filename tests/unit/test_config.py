from __future__ import annotations

from pathlib import Path

import pytest
from decentralml.core.config import SECRET_MASK, load_config
from decentralml.core.errors import ConfigError


def test_defaults_when_no_file(tmp_path: Path) -> None:
    config = load_config(env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert config.chain.url == "ws://127.0.0.1:9944"
    assert config.ipfs.api_url == "http://127.0.0.1:5001"
    assert config.source == "defaults"


def test_file_then_env_then_flags(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[chain]\nurl = "ws://file:1"\nera_period = 128\n'
        '[ipfs]\napi_url = "http://file:5001"\nauth = "user:hunter2"\n'
        '[keys]\nkeystore = "~/ks"\n'
    )
    config = load_config(path, env={})
    assert (config.chain.url, config.chain.era_period) == ("ws://file:1", 128)
    assert config.keys.keystore == Path.home() / "ks"
    config = load_config(path, env={"DECENTRALML_CHAIN_URL": "ws://env:2"})
    assert config.chain.url == "ws://env:2"
    config = load_config(
        path,
        env={"DECENTRALML_CHAIN_URL": "ws://env:2"},
        overrides={"chain": {"url": "ws://flag:3"}},
    )
    assert config.chain.url == "ws://flag:3"
    assert config.ipfs.auth == "user:hunter2"


def test_redacted_hides_secrets(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[ipfs]\napi_url = "https://alice:pw@ipfs.example:5001"\nauth = "Bearer tok"\n')
    shown = load_config(path, env={}).redacted()
    text = repr(shown)
    assert "tok" not in text and "pw" not in text and "alice" not in text
    assert shown["ipfs"]["auth"] == SECRET_MASK
    assert shown["ipfs"]["api_url"] == f"https://{SECRET_MASK}@ipfs.example:5001"
    assert "tok" not in repr(load_config(path, env={}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[chain\n", "invalid TOML"),
        ("[nope]\n", "unknown config section"),
        ("[chain]\nurlx = 1\n", "unknown key"),
        ('[chain]\nurl = "ftp://x"\n', "not a ws"),
        ("[chain]\nera_period = -1\n", "must be positive"),
        ('[ipfs]\ntimeout_s = "x"\n', "must be a number"),
        ('[chain]\nallow_dev_accounts = "always"\n', "allow_dev_accounts"),
    ],
)
def test_bad_config_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, env={})


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml", env={})
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(env={"DECENTRALML_CONFIG": str(tmp_path / "missing.toml")})
