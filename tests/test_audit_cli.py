"""`python -m bot audit`: the audit log as text, JSON lines and CSV, filtered by date."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from bot.cli import main
from bot.clock import FakeClock
from bot.store import Store


def seeded(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    clock = FakeClock()
    store = Store(url, clock=clock)
    store.migrate()
    request_id = store.requests.create("scanner@contoso.com", "t", "U0REQUEST", "C0OPS", timedelta(hours=1),
                                      [{"handler_key": "mailbox_smtp_auth", "title": "SMTP AUTH", "proposed": {}}],
                                      {})
    clock.advance(86400 * 3)
    [step] = store.requests.get_steps(request_id)
    store.requests.transition_step(step.id, "pending", "approved", "U0APPROVE", "step.approved", decided_by="U0APPROVE")
    store.close()
    return url


def run(url: str, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["audit", *args], env={"DATABASE_URL": url}, stdout=out)
    return code, out.getvalue()


def test_text_json_csv_and_since(tmp_path):
    url = seeded(tmp_path)
    code, text = run(url)
    assert code == 0 and "request.created" in text and "step.approved" in text and "3 audit row(s)" in text
    code, lines = run(url, "--json")
    rows = [json.loads(line) for line in lines.splitlines()]
    assert [r["action"] for r in rows] == ["request.created", "request.planned", "step.approved"]
    assert rows[2]["actor"] == "U0APPROVE" and rows[2]["after"]["state"] == "approved"
    code, table = run(url, "--csv")
    parsed = list(csv.DictReader(io.StringIO(table)))
    assert [r["action"] for r in parsed] == ["request.created", "request.planned", "step.approved"]
    assert json.loads(parsed[2]["before"])["state"] == "pending"
    code, recent = run(url, "--json", "--since", "2026-11-30")
    assert [json.loads(line)["action"] for line in recent.splitlines()] == ["step.approved"]


def test_bad_date_is_a_usage_error(tmp_path):
    code, text = run(seeded(tmp_path), "--since", "last tuesday")
    assert code == 2 and "is not a date" in text
