"""Shared values for the config tests: credentials, the shipped file, and a problem collector."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT = "0b5e2c3f-1a2b-4c5d-8e9f-0a1b2c3d4e5f"
SECRET = "s3cr3t-value-never-printed"
BOT_TOKEN = "xoxb-1111-2222-bot-token-never-printed"
SIGNING_SECRET = "signing-secret-never-printed"

#: A complete real-mode environment: Microsoft credentials (a secret) and Slack in HTTP mode.
FULL_ENV = {
    "M365_TENANT_ID": TENANT,
    "M365_CLIENT_ID": CLIENT,
    "M365_CLIENT_SECRET": SECRET,
    "SLACK_BOT_TOKEN": BOT_TOKEN,
    "SLACK_SIGNING_SECRET": SIGNING_SECRET,
}

#: The shipped app.yaml at the repository root.
SHIPPED = Path(__file__).resolve().parents[2] / "app.yaml"

#: A PEM shaped like a key plus certificate; the loader only checks the markers.
FAKE_CERT_PEM = (
    "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n"
    "-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n"
)


def write(directory: Path, text: str, name: str = "app.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path, env: Mapping[str, str] | None = None) -> list[str]:
    """The problems loading `path` reports; fails the test if it loads."""
    with pytest.raises(ConfigError) as caught:
        load_config(path, env or {})
    return caught.value.problems
