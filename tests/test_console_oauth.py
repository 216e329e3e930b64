"""The OAuth onboarding demo as a newcomer runs it: `python -m bot` with a piped script, asserted on the transcript.

`/smtp-oauth` for the scanner's own app -> plan -> Approve all -> the device's XOAUTH2 sign-in green -> undo of
each step (each asked by the requester, approved by an approver) -> the sign-in refused again.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_console_demo import sections

ROOT = Path(__file__).resolve().parent.parent
APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"

SCRIPT = f"""
device scanner@contoso.com {APP}
/smtp-oauth scanner@contoso.com --app {APP}
as avery
click 7
device scanner@contoso.com {APP}
as riley
click 10
as avery
click 13
as riley
click 16
as avery
click 18
as riley
click 20
as avery
click 21
device scanner@contoso.com {APP}
tenant
"""


def test_oauth_onboarding_demo_and_undo_of_each_step():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bot"], input=SCRIPT, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = sections(done.stdout)
    prompts = [prompt for prompt, _ in steps]
    bodies = ["\n".join(lines) for _, lines in steps]
    assert prompts[1] == f"riley> /smtp-oauth scanner@contoso.com --app {APP}"

    assert "535 5.7.3 Authentication unsuccessful" in bodies[0]  # refused before onboarding
    plan = bodies[1]
    assert "SMTP OAuth onboarding for scanner@contoso.com" in plan and "3 changes needed" in plan
    assert "1. SMTP AUTH for this mailbox: disabled → enabled" in plan
    assert "2. The app's service principal in Exchange: not registered in Exchange → registered in Exchange" in plan
    assert ("3. The app's access to this mailbox (scoped role): no role for this mailbox → Application "
            "SMTP.SendAsApp, scoped to this mailbox") in plan
    assert "[7 Approve all 3]" in plan
    assert "SMTP server `smtp.office365.com`, port `587`, STARTTLS" in plan
    assert f"client id `{APP}`" in plan and "scope `https://outlook.office365.com/.default`" in plan

    approved = bodies[3]
    assert approved.count("✅ Applied and verified") == 3 and "[10 Undo]" in approved
    assert "ok, 235 Authentication successful" in bodies[4]  # green after

    undos = "\n".join(bodies[5:17])
    assert undos.count("↩️ Undo requested by @riley") >= 3
    final_card = bodies[16]
    assert final_card.count("↩️ Undone at") == 3 and "restored not registered in Exchange" in final_card
    assert "restored no role for this mailbox" in final_card and "restored disabled" in final_card
    assert "535 5.7.3 Authentication unsuccessful" in bodies[17]  # refused again: the app has no mailbox
    assert "scanner@contoso.com        SMTP AUTH off" in bodies[18]
