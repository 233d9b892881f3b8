from __future__ import annotations

from pathlib import Path

import pytest
from decentralml.core.config import SECRET_MASK, home_env, load_config
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


def test_a_home_env_keeps_a_process_to_its_home(tmp_path: Path) -> None:
    base = {
        "PATH": "/usr/bin",
        "DECENTRALML_PASSWORD": "hunter2",
        "DECENTRALML_CONFIG": "/etc/other.toml",
        "DECENTRALML_KEYSTORE": "/root/keys",
    }
    env = home_env(tmp_path, "ws://127.0.0.1:9944", "http://127.0.0.1:5001", base)
    assert env["PATH"] == "/usr/bin"
    assert "DECENTRALML_PASSWORD" not in env and "DECENTRALML_CONFIG" not in env
    assert env["DECENTRALML_KEYSTORE"] == str(tmp_path / "keystore")
    assert env["DECENTRALML_STATE"] == str(tmp_path / "state")
    assert env["XDG_CONFIG_HOME"] == str(tmp_path / "config")
    assert env["DECENTRALML_CHAIN_URL"] == "ws://127.0.0.1:9944"
    assert env["DECENTRALML_IPFS_API"] == "http://127.0.0.1:5001"
    assert base["DECENTRALML_PASSWORD"] == "hunter2"  # the base is not changed
    config = load_config(env=env)
    assert config.chain.url == "ws://127.0.0.1:9944"
    assert config.keys.keystore == tmp_path / "keystore"


def test_the_config_file_is_found_through_the_given_environment(tmp_path: Path) -> None:
    env = home_env(tmp_path, "ws://127.0.0.1:1", "http://127.0.0.1:2", {})
    env.pop("DECENTRALML_CHAIN_URL")
    path = tmp_path / "config" / "decentralml" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[chain]\nurl = "ws://127.0.0.1:9955"\n')
    assert load_config(env=env).chain.url == "ws://127.0.0.1:9955"
