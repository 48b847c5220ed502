"""The compose files: the production profile sets every setting production needs (compose stops
and names any that is unset), and what it sets passes the API's own production check."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from infra.config import Settings

ROOT = Path(__file__).resolve().parents[1]
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / name).read_text())
    return data


def _interpolate(value: str, given: dict[str, str]) -> str:
    def one(m: re.Match[str]) -> str:
        name, kind, rest = m.group(1), m.group(2), m.group(3)
        if name in given:
            return given[name]
        if kind == "?":
            raise KeyError(name)
        return rest or ""

    return VARIABLE.sub(one, value)


def _production_env(given: dict[str, str]) -> dict[str, str]:
    base, prod = _load("docker-compose.yml"), _load("compose.production.yaml")
    env = {**base["services"]["api"]["environment"], **prod["services"]["api"]["environment"]}
    assert prod["services"]["worker"]["environment"] == prod["services"]["api"]["environment"]
    return {k: _interpolate(str(v), given) for k, v in env.items()}


def test_the_production_profile_requires_and_passes_every_production_setting() -> None:
    prod = (ROOT / "compose.production.yaml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", prod))
    given = {name: f"value-of-{name.lower()}-0123456789abcdefghijklmnop" for name in required}
    given["C2M_PUBLIC_URL"] = "https://c2m.example.com"
    env = _production_env(given)
    assert env["C2M_ENV"] == "production" and env["C2M_PAYMENTS"] == "wechat"
    settings = Settings(**{k.removeprefix("C2M_").lower(): v for k, v in env.items()})
    settings.check()  # what the API runs first: every production setting is there
    # Leave any one out and compose refuses to start, naming it.
    for name in required:
        try:
            _production_env({k: v for k, v in given.items() if k != name})
        except KeyError as missing:
            assert missing.args[0] == name
        else:
            raise AssertionError(f"{name} is not required")
    # The dev defaults (the insecure secret, sandbox payments) are all overridden.
    assert settings.secret_key and "insecure" not in settings.secret_key
