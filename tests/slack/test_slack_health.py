"""/healthz stays a cheap liveness check; /readyz names each failing cause; /metrics is hidden without a token."""

from __future__ import annotations

from dataclasses import replace

import requests
from slack_helpers import sandbox_probes
from werkzeug.test import Client

from bot.slack.app import create_bolt_app, wsgi_app
from bot.store import Store

LIMITS = {"probe_lease_max_age_seconds": 120, "outbox_max_backlog": 2, "outbox_max_age_seconds": 600}


def ready(bot) -> tuple[int, dict]:
    answer = requests.get(f"{bot.url}/readyz", timeout=5)
    return answer.status_code, answer.json()


def test_readyz_names_each_failing_cause_while_healthz_stays_ok(start_bot, sandbox):
    bot = start_bot(probes=sandbox_probes(sandbox), server={"readiness": LIMITS})
    status, report = ready(bot)
    assert (status, report["failing"]) == (503, ["probe_lease_age_seconds"])  # nobody holds it yet
    assert bot.runtime.scheduler.renew_lease()
    status, report = ready(bot)
    assert status == 200 and report["ready"] and report["checks"]["database"] == {"ok": True}
    assert report["checks"]["outbox_backlog"] == {"ok": True, "value": 0, "limit": 2}

    bot.runtime.outbox.stop()
    for n in range(3):
        bot.runtime.store.outbox.enqueue("chat.postMessage", {"channel": "C0OPS", "text": f"stuck {n}"})
    bot.clock.advance(601)
    status, report = ready(bot)
    assert status == 503
    assert report["failing"] == ["outbox_backlog", "outbox_oldest_age_seconds", "probe_lease_age_seconds"]
    assert report["checks"]["outbox_oldest_age_seconds"] == {"ok": False, "value": 601.0, "limit": 600}
    assert report["checks"]["probe_lease_age_seconds"]["value"] == 601.0
    assert requests.get(f"{bot.url}/healthz", timeout=5).json() == {"ok": True}


def test_readyz_without_probe_targets_skips_the_lease(start_bot):
    status, report = ready(start_bot())
    assert status == 200 and "probe_lease_age_seconds" not in report["checks"]


def test_readyz_answers_503_when_the_database_is_unreachable(start_bot):
    bot = start_bot()
    gone = replace(bot.runtime, store=Store("postgresql+psycopg://postgres@127.0.0.1:1/gone"))
    answer = Client(wsgi_app(create_bolt_app(gone), gone)).get("/readyz")
    assert answer.status_code == 503
    assert answer.json == {"ready": False, "failing": ["database"], "checks": {"database": {"ok": False}}}


def test_metrics_answer_404_without_a_token(start_bot):
    bot = start_bot()
    assert requests.get(f"{bot.url}/metrics", timeout=5).status_code == 404
