"""Where a client finds its server: arguments, profile, environment, default profile."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from modelyard.client import ModelyardError, resolve
from modelyard.client._config import load_config, remove_profile, save_profile


def test_precedence_arguments_profile_environment_default(tmp_path: Path) -> None:
    env = {"MODELYARD_CONFIG_HOME": str(tmp_path)}
    assert resolve(environ=env).url == "http://127.0.0.1:8000"
    save_profile("prod", url="https://prod.example.com/", token="p-token", environ=env)
    save_profile("staging", url="https://staging.example.com", token="s-token", environ=env)
    # the first profile saved became the default
    assert resolve(environ=env) == resolve(profile="prod", environ=env)
    assert resolve(environ=env).url == "https://prod.example.com"

    env |= {"MODELYARD_URL": "http://env.example.com", "MODELYARD_TOKEN": "e-token"}
    assert (resolve(environ=env).url, resolve(environ=env).token) == (
        "http://env.example.com",
        "e-token",
    )
    chosen = resolve(profile="staging", environ=env)
    assert (chosen.url, chosen.token, chosen.url_from) == (
        "https://staging.example.com",
        "s-token",
        "profile 'staging'",
    )
    given = resolve("http://arg.example.com", profile="staging", environ=env)
    assert (given.url, given.token) == ("http://arg.example.com", "s-token")

    del env["MODELYARD_URL"], env["MODELYARD_TOKEN"]
    env["MODELYARD_PROFILE"] = "staging"
    assert resolve(environ=env).token == "s-token"


def test_profile_file_is_private_and_round_trips_odd_values(tmp_path: Path) -> None:
    env = {"MODELYARD_CONFIG_HOME": str(tmp_path)}
    token = 'quote " backslash \\ unicode é'
    path = save_profile("odd name", url="http://127.0.0.1:1", token=token, environ=env)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_config(env)["profiles"]["odd name"]["token"] == token
    save_profile("second", url="http://127.0.0.1:2", make_default=True, environ=env)
    assert load_config(env)["default_profile"] == "second"
    remove_profile("second", environ=env)
    assert "default_profile" not in load_config(env)


def test_mistakes_are_one_sentence(tmp_path: Path) -> None:
    env = {"MODELYARD_CONFIG_HOME": str(tmp_path)}
    with pytest.raises(ModelyardError, match=r"No profile .nope.*modelyard profile set nope"):
        resolve(profile="nope", environ=env)
    with pytest.raises(ModelyardError, match="must start with http:// or https://"):
        resolve("127.0.0.1:8000", environ=env)
    (tmp_path / "config.toml").write_text("not = [valid")
    with pytest.raises(ModelyardError, match="is not valid TOML"):
        resolve(profile="x", environ=env)
