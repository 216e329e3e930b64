"""The workflow's vocabulary: one transition table, documented, enforced, and the seam Slack may import."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import IllegalTransition
from bot.workflow.model import (
    READINESS_MAX_DAYS,
    REQUEST_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL,
    ChangeRequest,
    RequestState,
    StepState,
    check_request_transition,
    check_step_transition,
    command_for,
)

ROOT = Path(__file__).resolve().parents[2]
S = StepState


def test_the_states_keep_the_strings_the_database_and_audit_rows_hold() -> None:
    assert [s.value for s in RequestState] == ["diagnosing", "planned", "closed"]
    assert S.REVERT_PENDING == "revert_pending" and f"{S.PENDING}" == "pending"


def test_terminal_states_have_no_way_out_and_every_state_is_reachable() -> None:
    assert not TERMINAL & {source for source, _ in STEP_TRANSITIONS}
    assert {target for _, target in STEP_TRANSITIONS} == set(StepState)  # pending again through a retry


@pytest.mark.parametrize(("expected", "new", "action"), [
    (S.PENDING, S.VERIFIED, "step.verified"),
    (S.PENDING, S.APPROVED, "step.denied"),
    (S.REVERTED, S.VERIFIED, "undo.recovered"),
    (S.VERIFIED, S.PENDING, "step.retry"),
])
def test_a_transition_outside_the_table_is_illegal(expected: StepState, new: StepState, action: str) -> None:
    with pytest.raises(IllegalTransition, match=f"{expected} -> {new}"):
        check_step_transition(expected, new, action)


def test_the_table_allows_what_it_lists() -> None:
    for (expected, new), actions in STEP_TRANSITIONS.items():
        for action in actions:
            check_step_transition(expected, new, action)
    check_request_transition(RequestState.PLANNED, RequestState.CLOSED, "request.nothing_to_change")
    with pytest.raises(IllegalTransition):
        check_request_transition(RequestState.CLOSED, RequestState.PLANNED, "request.nothing_to_change")


def _documented(heading: str) -> dict[tuple[str, str], frozenset[str]]:
    text = (ROOT / "docs" / "architecture.md").read_text()
    section = text[text.index(heading):]
    section = section[:section.index("\n\n", section.index("|"))]
    rows = re.findall(r"^\| `(\w+)` \| `(\w+)` \| (.+?) \|$", section, re.MULTILINE)
    return {(old, new): frozenset(re.findall(r"`([\w.]+)`", actions)) for old, new, actions in rows}


def test_the_architecture_page_shows_the_transition_tables() -> None:
    assert _documented("Step transitions") == {(str(a), str(b)): v for (a, b), v in STEP_TRANSITIONS.items()}
    assert _documented("Request transitions") == {(str(a), str(b)): v for (a, b), v in REQUEST_TRANSITIONS.items()}


def test_the_model_and_the_renderer_are_cheap_to_import() -> None:
    code = ("import sys, bot.workflow.model; model = sorted(m for m in sys.modules if m.startswith('bot'));"
            "import bot.slack.blocks; heavy = [m for m in sys.modules if m.startswith(('bot.store', "
            "'bot.workflow.service', 'sqlalchemy'))]; print(model, heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "['bot', 'bot.errors', 'bot.workflow', 'bot.workflow.model'] []"


#: Words that are also state names but mean something else where they appear, and why.
NOT_STATES = {
    ("bot/probe/vocabulary.py", "expired"): "a certificate's TLS failure detail",
    ("bot/probe/outcome.py", "expired"): "a certificate's TLS failure detail",
    ("bot/doctor/smtp.py", "expired"): "a certificate's TLS failure detail",
    ("bot/store/models.py", "pending"): "the outbox's own state enum",
    ("bot/slack/blocks/plan.py", "expired"): "a word of the card's footer",
}


def state_literals(root: Path) -> set[tuple[str, str]]:
    """(module, value) of every string constant outside the model that spells a step or request state."""
    states = {*StepState, *RequestState}
    found = set()
    for package in ("bot", "handlers"):
        for path in (root / package).rglob("*.py"):
            name = path.relative_to(root).as_posix()
            if name == "bot/workflow/model.py" or "/migrations/" in name:
                continue
            found |= {(name, node.value) for node in ast.walk(ast.parse(path.read_text()))
                      if isinstance(node, ast.Constant) and node.value in states}
    return found


def test_no_state_literal_outside_the_model() -> None:
    assert state_literals(ROOT) - set(NOT_STATES) == set()


def test_the_literal_scan_sees_a_state_written_as_a_string(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "handlers").mkdir()
    (tmp_path / "bot" / "listener.py").write_text("def open_(step):\n    return step.state == 'pending'\n")
    assert state_literals(tmp_path) == {("bot/listener.py", "pending")}


def _request(upn: str, **options: object) -> ChangeRequest:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    return ChangeRequest("CR-1", upn, "tenant", "U0REQ", "C0OPS", None, RequestState.PLANNED, at, at, None, {},
                         dict(options))


@pytest.mark.parametrize(("request_", "again"), [
    (_request("scanner@contoso.com"), "/smtp-enable scanner@contoso.com"),
    (_request("scanner@contoso.com", app_id="app-1", route="scoped"), "/smtp-oauth scanner@contoso.com --app app-1"),
    (_request("scanner@contoso.com", app_id="app-1", route="full_access"),
     "/smtp-oauth scanner@contoso.com --app app-1 --full-access"),
    # A clean-up's upn is its label, not a mailbox: the readiness report's Close unused opens one anew.
    (_request("7 mailboxes unused for 14 days", kind="cleanup", days=14, org_unused=False),
     "[/smtp-readiness --days 14] and click Close unused on its card"),
    (_request("2 mailboxes unused for 90 days", kind="cleanup", days=90),
     "[/smtp-readiness] and click Close unused on its card"),  # the report reads 30 days at most
])
def test_command_for_opens_each_kind_of_request_anew(request_, again) -> None:
    expected = again if again.startswith("[") else f"[{again}]"
    assert command_for(request_, lambda text: f"[{text}]") == expected
    assert command_for(request_) == expected.replace("[", "").replace("]", "")  # plain where no markup is wanted


def test_the_longest_readiness_period_is_the_reports_own() -> None:
    from bot.readiness.model import MAX_DAYS

    assert READINESS_MAX_DAYS == MAX_DAYS
