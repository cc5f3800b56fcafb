"""Configuration: one YAML file with ``${VAR:default}`` interpolation plus environment overrides.

The file is read when a process starts (by the CLI or a service runner) and handed to nameko as
the container config; extensions read what they need from ``container.config`` in ``setup()``,
never at import time (STYLE.md §7).

Environment overrides, highest precedence first:
- ``<SERVICE>_DATABASE_URL`` (e.g. ``INTAKE_DATABASE_URL``): one service's database;
- ``HOTLINE_DATABASE_URL_TEMPLATE``: every service's database, ``{service}`` replaced by its name
  (e.g. ``postgresql+pg8000://postgres@127.0.0.1/hotline_{service}``);
- anything the YAML names as ``${VAR:default}`` (``AMQP_URI``, ``HOTLINE_DATA_DIR``, ...).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

SERVICES = ("intake", "dispatch", "supervision", "knowledge", "reporting", "gateway")

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    """Replace ``${VAR:default}`` in every string of a nested structure.

    A variable that is unset and has no default is an error naming it, not an empty string.
    A string that is exactly one placeholder becomes a number or boolean when its value is one
    (``${PORT:8000}`` gives the int 8000); any other value stays a string, verbatim.
    """
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is None:
            raise KeyError(f"configuration variable ${{{name}}} is not set and has no default")
        return default

    whole = _VAR.fullmatch(value)
    replaced = _VAR.sub(sub, value)
    if whole and replaced != "":
        # numbers and booleans keep their type; anything else stays the string it was (a
        # secret such as "pa ss #word" must not be read as YAML and cut at the comment)
        try:
            typed = yaml.safe_load(replaced)
        except yaml.YAMLError:
            return replaced
        return typed if isinstance(typed, (bool, int, float)) else replaced
    return replaced


def default_config_text() -> str:
    return resources.files("shared").joinpath("default_config.yaml").read_text("utf-8")


def load_config(path: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Load the YAML configuration (the packaged default when no path is given) and resolve it."""
    env = os.environ if env is None else env
    path = path or env.get("HOTLINE_CONFIG")
    text = Path(path).read_text("utf-8") if path else default_config_text()
    config = interpolate(yaml.safe_load(text) or {}, env)
    data_dir = Path(config.setdefault("DATA_DIR", "./var")).expanduser()
    config["DATA_DIR"] = str(data_dir)
    databases = config.setdefault("DATABASES", {})
    template = env.get("HOTLINE_DATABASE_URL_TEMPLATE") or config.get("DATABASE_URL_TEMPLATE")
    for service in SERVICES:
        override = env.get(f"{service.upper()}_DATABASE_URL")
        if override:
            databases[service] = override
        elif template:
            databases[service] = template.format(service=service)
        else:
            databases.setdefault(service, f"sqlite:///{data_dir / (service + '.db')}")
    return config


def database_url(config: Mapping[str, Any], service: str) -> str:
    try:
        return str(config["DATABASES"][service])
    except KeyError:
        raise KeyError(f"no database configured for service {service!r} (DATABASES.{service})") from None
