"""The container image and the compose file: what can be checked without a container daemon."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import yaml

from bot.config import load_config
from bot.slack.app import healthz
from bot.store import normalise_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_DATA = "/var/lib/postgresql/data"
COMPOSE_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}")


def dockerfile() -> list[tuple[str, str]]:
    """The Dockerfile's instructions in order, as (INSTRUCTION, arguments), continuation lines joined."""
    lines = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    text = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip()]


def instructions(name: str) -> list[str]:
    return [args for instruction, args in dockerfile() if instruction == name]


def procfile_web() -> str:
    (web,) = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")]
    return web.removeprefix("web:").strip()


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against `env`."""
    def one(match: re.Match[str]) -> str:
        name, kind, arg = match.groups()
        if env.get(name):
            return env[name]
        assert kind != "?", f"compose refuses to start without {name}: {arg}"
        return arg if kind == "-" else ""

    return COMPOSE_REF.sub(one, value)


def test_image_is_python_311_slim_and_installs_the_pinned_requirements_without_a_cache():
    assert instructions("FROM")[0] == "python:3.11-slim"
    installs = [run for run in instructions("RUN") if "pip install" in run]
    assert any("--no-cache-dir" in run and "-r requirements.txt" in run for run in installs), installs
    order = [instruction for instruction, args in dockerfile()
             if (instruction == "COPY" and "requirements.txt" in args.split()) or
             (instruction == "RUN" and "-r requirements.txt" in args) or (instruction == "COPY" and ". ." in args)]
    assert order == ["COPY", "RUN", "COPY"], "requirements are installed before the code is copied (layer cache)"


def test_image_runs_as_a_non_root_user_set_before_its_command():
    steps = [instruction for instruction, _ in dockerfile()]
    users = instructions("USER")
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert steps.index("USER") < steps.index("CMD")
    assert max(i for i, s in enumerate(steps) if s == "RUN") < steps.index("USER"), "nothing runs as root after USER"


def test_image_command_is_the_procfiles_web_command():
    (cmd,) = instructions("CMD")
    argv = json.loads(cmd)
    assert argv[:2] == ["sh", "-c"] and len(argv) == 3, "a shell runs the Procfile line as written"
    assert argv[2] == "exec " + procfile_web(), "exec: gunicorn is PID 1 and gets docker stop's SIGTERM"
    # The Procfile's gunicorn takes its bind from app.yaml's server.port, which defaults to $PORT or this.
    port = re.search(r"^  port: \$\{PORT:-(\d+)\}$", (ROOT / "app.yaml").read_text(), re.M)
    assert "-c python:bot.slack.gunicorn_conf" in procfile_web()
    assert port and instructions("EXPOSE") == [port.group(1)]


@pytest.fixture
def healthz_server() -> Iterator[int]:
    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = make_server("127.0.0.1", 0, healthz, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    server.server_close()


def healthcheck(port: int | str) -> subprocess.CompletedProcess[str]:
    (check,) = instructions("HEALTHCHECK")
    argv = json.loads(check[check.index("CMD") + 3:])
    assert argv[0] == "python", "python:3.11-slim has no curl or wget"
    env = {k: v for k, v in os.environ.items() if k != "PORT"} | {"PORT": str(port)}
    return subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, text=True, timeout=30)


def test_healthcheck_asks_the_apps_liveness_endpoint_on_the_served_port(healthz_server):
    (check,) = instructions("HEALTHCHECK")
    assert "/healthz" in check and "urllib" in check
    assert "'PORT'" in check and "'3000'" in check, "the port the Procfile binds: $PORT, else 3000"
    assert healthcheck(healthz_server).returncode == 0


def test_healthcheck_fails_when_nothing_answers():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert healthcheck(port).returncode != 0


def test_dockerignore_keeps_local_state_and_secrets_out_but_the_app_in():
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert {".venv", ".git", ".env", "*.db", ".sandbox", ".pytest_cache", ".ruff_cache"} <= set(patterns)
    for needed in ("bot", "handlers", "app.yaml", "requirements.txt", "Procfile"):
        assert not any(fnmatch.fnmatch(needed, p.rstrip("/")) for p in patterns), needed


def test_compose_runs_the_bot_and_postgres_16_with_a_named_volume_and_a_healthcheck():
    spec = compose()
    assert set(spec["services"]) == {"bot", "postgres"}
    postgres = spec["services"]["postgres"]
    assert postgres["image"] == "postgres:16"
    mounts = [volume.split(":") for volume in postgres["volumes"]]
    assert [name for name, target in mounts if target == POSTGRES_DATA] == list(spec["volumes"])
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])


def test_compose_bot_builds_the_image_reads_env_and_waits_for_a_healthy_postgres():
    bot = compose()["services"]["bot"]
    assert bot["build"] == "."
    assert bot["env_file"] in (".env", [".env"])
    assert bot["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert bot["environment"]["PORT"] == "3000"
    assert bot["ports"] == ["3000:3000"]
    readme = (ROOT / "README.md").read_text()
    assert "docker compose up" in readme and "http://localhost:3000/healthz" in readme


def test_compose_database_url_reaches_the_postgres_service_with_a_url_the_bot_accepts():
    spec = compose()
    env = {"POSTGRES_PASSWORD": "s3cret-from-dotenv"}
    postgres = {k: interpolate(v, env) for k, v in spec["services"]["postgres"]["environment"].items()}
    url = interpolate(spec["services"]["bot"]["environment"]["DATABASE_URL"], env)
    cfg = load_config(ROOT / "app.yaml", env={"DATABASE_URL": url})
    parsed = normalise_url(cfg.database.url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.host, parsed.port) == ("postgres", 5432)
    assert (parsed.username, parsed.password, parsed.database) == (
        postgres["POSTGRES_USER"], postgres["POSTGRES_PASSWORD"], postgres["POSTGRES_DB"])
    assert postgres["POSTGRES_PASSWORD"] == "s3cret-from-dotenv", "the password comes from .env, not the file"
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        interpolate(spec["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"], {})


def test_readme_quick_start_names_both_production_commands():
    readme = (ROOT / "README.md").read_text()
    assert procfile_web().split()[0] in readme
    assert "docker compose up --build -d" in readme and "slack-manifest.yaml" in readme
