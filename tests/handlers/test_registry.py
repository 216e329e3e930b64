"""The registry is the one list of handlers: every declaration is complete, and everything derives from it."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_config, with_overrides
from bot.diagnosis import CATALOGUE, CHECK_LABELS, STEP_LABELS
from bot.doctor import doctor_main
from bot.workflow.diagnose import diagnose
from bot.workflow.plan import make_plan
from bot.workflow.report import format_report
from handlers import CHECKS, REMEDIATIONS, Finding, Permission, Remediation, Status, in_report_order
from handlers.facts import Facts

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = {**REMEDIATIONS, **CHECKS}


@pytest.mark.parametrize("handler", HANDLERS.values(), ids=list(HANDLERS))
def test_every_handler_declares_its_metadata(handler):
    assert handler.title and handler.label and handler.docs.startswith("https://")
    assert isinstance(handler.report_order, int)
    assert all(p.name and p.api and p.reason for p in handler.permissions)
    assert handler.changes is (handler.key in REMEDIATIONS)


@pytest.mark.parametrize("remediation", REMEDIATIONS.values(), ids=list(REMEDIATIONS))
def test_every_remediation_declares_what_a_plan_and_doctor_need(remediation):
    assert len(remediation.impact) > 40 and remediation.scope in {"mailbox", "user", "app", "tenant", "bulk"}
    assert remediation.permissions and isinstance(remediation.plan_priority, int)
    assert remediation.docs.startswith("https://learn.microsoft.com/")
    assert remediation.alternative_to is None or remediation.alternative_to in REMEDIATIONS
    assert remediation.why_not(set(), {}).endswith(".")


def test_orders_are_permutations_of_the_registry():
    assert sorted(h.key for h in in_report_order(app=True)) == sorted(HANDLERS)
    assert len({h.report_order for h in HANDLERS.values()}) == len(HANDLERS)
    assert len({r.plan_priority for r in REMEDIATIONS.values()}) == len(REMEDIATIONS)
    assert list(REMEDIATIONS) == sorted(REMEDIATIONS, key=lambda key: REMEDIATIONS[key].plan_priority)


def test_every_key_the_reply_catalogue_names_is_registered():
    for cause in CATALOGUE.values():
        assert set(cause.steps) <= set(REMEDIATIONS) and set(cause.checks) <= set(CHECKS), cause.key


def test_the_reply_catalogue_loads_the_registry_without_msal_or_requests():
    code = ("import sys; from bot.diagnosis import CATALOGUE; "
            "print(sorted(m for m in ('handlers.registry', 'msal', 'requests') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "['handlers.registry']"


class FakeSwitch(Remediation):
    """A remediation that exists only in this test's registry."""

    key = "fake_switch"
    title = "A fake switch"
    label = "turn the fake switch off"
    report_order = 25
    plan_priority = 15
    docs = "https://learn.microsoft.com/fake"
    scope = "user"
    target_value = False
    impact = "This user only: nothing real changes; the fake switch exists only in a test's registry."
    permissions = (Permission("Fake.ReadWrite.All", "Microsoft Graph", "flip the fake switch"),)

    def read(self, facts: Facts, upn: str) -> Any:
        return True

    def assess(self, facts: Facts, upn: str, auth_mode: str) -> Finding:
        return self.finding(Status.CHANGE, "The fake switch is on.", current=True, proposed=False)


@pytest.fixture
def fake_switch(monkeypatch: pytest.MonkeyPatch) -> FakeSwitch:
    fake = FakeSwitch()
    monkeypatch.setitem(REMEDIATIONS, fake.key, fake)
    return fake


def test_a_remediation_registered_only_in_the_registry_is_diagnosed_planned_and_labelled(make_m365, fake_switch):
    [diagnosis] = diagnose(make_m365(), ["scanner@contoso.com"])
    keys = list(diagnosis.findings)
    assert keys.index("mailbox_smtp_auth") < keys.index("fake_switch") < keys.index("org_smtp_auth")
    plan = make_plan(diagnosis)
    assert [s.key for s in plan.steps] == ["mailbox_smtp_auth", "fake_switch"]
    assert plan.steps[1].proposed_text == "False" and plan.steps[1].impact == fake_switch.impact
    assert "A fake switch: True -> False" in format_report(diagnosis, plan)
    assert STEP_LABELS["fake_switch"] == "turn the fake switch off" and "fake_switch" not in CHECK_LABELS


def test_doctor_asks_for_the_permission_a_registered_remediation_declares(sandbox, fake_switch):
    cfg = with_overrides(load_config(ROOT / "app.yaml", env={}), {"m365": sandbox.m365_settings()})
    out = io.StringIO()
    assert doctor_main(cfg, out) == 1
    [line] = [text for text in out.getvalue().splitlines() if "Fake.ReadWrite.All:" in text]
    assert line.startswith("FAIL Graph permission Fake.ReadWrite.All: missing (change) — needed to flip the "
                           "fake switch (step fake_switch).")
