"""Where the client finds its server: arguments, the environment, or a profile.

Precedence, first found wins, separately for the URL and the token:

1. ``url=`` / ``token=`` given to the client (the CLI's ``--url`` / ``--token``);
2. the profile named by ``profile=`` (``--profile``);
3. ``MODELYARD_URL`` / ``MODELYARD_TOKEN``;
4. the profile named by ``MODELYARD_PROFILE``, else the file's ``default_profile``;
5. ``http://127.0.0.1:8000`` and no token.

Profiles live in ``config.toml`` under ``$MODELYARD_CONFIG_HOME``, else
``$XDG_CONFIG_HOME/modelyard``, else ``~/.config/modelyard``::

    default_profile = "prod"

    [profiles.prod]
    url = "https://models.example.com"
    token = "my_..."

The file holds tokens, so :func:`save_profile` writes it readable by its owner only.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelyard.client._errors import ModelyardError

__all__ = [
    "DEFAULT_URL",
    "Connection",
    "config_path",
    "load_config",
    "remove_profile",
    "resolve",
    "save_profile",
]

DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class Connection:
    """The server a client talks to, and where each setting came from (for messages)."""

    url: str
    token: str | None
    url_from: str
    token_from: str


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    if env.get("MODELYARD_CONFIG_HOME"):
        base = Path(env["MODELYARD_CONFIG_HOME"])
    elif env.get("XDG_CONFIG_HOME"):
        base = Path(env["XDG_CONFIG_HOME"]) / "modelyard"
    else:
        base = Path.home() / ".config" / "modelyard"
    return base / "config.toml"


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    path = config_path(environ)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ModelyardError(f"The client configuration {path} is not valid TOML: {exc}.") from exc


def _profile(config: dict[str, Any], name: str, path: Path) -> dict[str, Any]:
    profiles = config.get("profiles", {})
    profile = profiles.get(name) if isinstance(profiles, dict) else None
    if not isinstance(profile, dict):
        known = ", ".join(sorted(profiles)) if isinstance(profiles, dict) and profiles else "none"
        raise ModelyardError(
            f"No profile {name!r} in {path} (profiles: {known}); "
            f"create it with `modelyard profile set {name} --url URL --token TOKEN`."
        )
    return profile


def resolve(
    url: str | None = None,
    token: str | None = None,
    profile: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connection:
    """The URL and token to use, by the precedence in this module's docstring."""
    env = os.environ if environ is None else environ
    layers: list[tuple[str, dict[str, Any]]] = [("argument", {"url": url, "token": token})]
    path = config_path(env)
    config: dict[str, Any] | None = None
    if profile:
        config = load_config(env)
        layers.append((f"profile {profile!r}", _profile(config, profile, path)))
    layers.append(
        ("environment", {"url": env.get("MODELYARD_URL"), "token": env.get("MODELYARD_TOKEN")})
    )
    if not profile:
        config = load_config(env) if config is None else config
        fallback = env.get("MODELYARD_PROFILE") or config.get("default_profile")
        if fallback:
            layers.append((f"profile {fallback!r}", _profile(config, str(fallback), path)))
    found: dict[str, tuple[str, str]] = {}
    for source, values in layers:
        for key in ("url", "token"):
            value = values.get(key)
            if key not in found and isinstance(value, str) and value:
                found[key] = (value, source)
    found_url, url_from = found.get("url", (DEFAULT_URL, "default"))
    found_token, token_from = found.get("token", (None, "none"))
    if not found_url.startswith(("http://", "https://")):
        raise ModelyardError(
            f"The server URL {found_url!r} (from the {url_from}) must start with http:// or https://."
        )
    return Connection(found_url.rstrip("/"), found_token, url_from, token_from)


def _toml_string(value: str) -> str:
    # A JSON string with only the escapes TOML's basic strings share (quote, backslash, \uXXXX).
    return json.dumps(value, ensure_ascii=True)


def _write(path: Path, config: dict[str, Any]) -> None:
    lines = []
    if config.get("default_profile"):
        lines.append(f"default_profile = {_toml_string(str(config['default_profile']))}")
    for name, values in sorted(config.get("profiles", {}).items()):
        lines.append(f"\n[profiles.{_toml_string(name)}]")
        for key, value in values.items():
            if isinstance(value, str):
                lines.append(f"{key} = {_toml_string(value)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write("\n".join(lines).lstrip("\n") + "\n")
    os.replace(temporary, path)


def save_profile(
    name: str,
    *,
    url: str | None = None,
    token: str | None = None,
    make_default: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Create or change a profile (only the settings given); returns the file's path."""
    if url is not None and not url.startswith(("http://", "https://")):
        raise ModelyardError(f"The URL {url!r} must start with http:// or https://.")
    path = config_path(environ)
    config = load_config(environ)
    profiles = config.setdefault("profiles", {})
    profile = profiles.setdefault(name, {})
    if url is not None:
        profile["url"] = url.rstrip("/")
    if token is not None:
        profile["token"] = token
    if make_default or not config.get("default_profile"):
        config["default_profile"] = name
    _write(path, config)
    return path


def remove_profile(name: str, environ: Mapping[str, str] | None = None) -> Path:
    path = config_path(environ)
    config = load_config(environ)
    _profile(config, name, path)
    del config["profiles"][name]
    if config.get("default_profile") == name:
        config.pop("default_profile")
    _write(path, config)
    return path
