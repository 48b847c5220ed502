"""Production mode refuses what would be unsafe there, and the compose file can run it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.config import Settings

ROOT = Path(__file__).resolve().parents[2]
STRONG = "Zq4mW8-pT2vK9xR3yB7nL1cF6hJ0dG5sA_eU"


def production(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "production",
        "secret_key": STRONG,
        "wechat_app_id": "wx123",
        "wechat_app_secret": "s",
        "payments": "wechat",
        "public_url": "https://c2m.example.cn",
        "wechatpay_mchid": "1900000001",
        "wechatpay_private_key_file": Path("/run/secrets/c2m/apiclient_key.pem"),
        "wechatpay_cert_serial": "ABC",
        "wechatpay_platform_cert_file": Path("/run/secrets/c2m/wechatpay_platform.pem"),
        "wechatpay_platform_serial": "DEF",
        "wechatpay_apiv3_key": "k" * 32,
    }
    return Settings(**(values | overrides))


def _compose_default(name: str) -> str:
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-c2m-env"]
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", str(env[name]))
    assert match, env[name]
    return match.group(1)


def test_a_complete_production_configuration_passes() -> None:
    production().check()


@pytest.mark.parametrize(
    "key",
    [
        "x",
        "short-but-random-9f8e7d",
        "a" * 64,
        "change-me-in-production-please-0123456789",
        "this-is-an-insecure-placeholder-key-0123456789",
    ],
)
def test_weak_secrets_are_refused_in_production(key: str) -> None:
    with pytest.raises(RuntimeError, match="C2M_SECRET_KEY"):
        production(secret_key=key).check()


def test_the_compose_files_dev_secret_is_refused_in_production() -> None:
    with pytest.raises(RuntimeError, match="C2M_SECRET_KEY"):
        production(secret_key=_compose_default("C2M_SECRET_KEY")).check()


def test_introspection_is_off_in_production_unless_asked_for() -> None:
    assert production().introspection_enabled is False
    assert production(introspection=True).introspection_enabled is True
    assert Settings(env="dev").introspection_enabled is True


def test_the_compose_file_passes_every_setting_production_needs() -> None:
    env = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-c2m-env"]
    needed = [name for name, value in production().model_dump().items() if value is not None]
    defaults = Settings().model_dump()
    # Every setting production sets away from its default reaches the containers.
    missing = [
        n
        for n in needed
        if production().model_dump()[n] != defaults[n] and f"C2M_{n.upper()}" not in env
    ]
    assert missing == []


async def test_production_refuses_introspection_by_default(client: Any, settings: Settings) -> None:
    from schema.build import build_schema

    schema = build_schema(settings.model_copy(update={"env": "production"}))
    result = await schema.execute("{ __schema { types { name } } }")
    assert result.errors and "introspection" in result.errors[0].message.lower()
