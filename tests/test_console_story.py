"""Issue 12's whole story in the console, as a newcomer runs it (`python -m bot` with a piped script): the readiness
report -> Close unused -> two approvers -> applied -> OAuth onboarding of the scanner -> its XOAUTH2 probe green ->
the report sees the app's access -> undo of each step, with the tenant's state read back (`tenant`) after each
stage."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from test_console_demo import ROOT, sections

APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"

SCRIPT = f"""
/smtp-readiness
click 1
as avery
click 2
as gale
click 4
tenant
as riley
/smtp-probe scanner-oauth
/smtp-oauth scanner@contoso.com --app {APP}
as avery
click 13
tenant
/smtp-probe scanner-oauth
/smtp-readiness --days 3
as riley
click 6
as avery
click 18
as gale
click 20
tenant
as riley
click 16
as avery
click 24
as riley
click 27
as avery
click 29
as riley
click 31
as avery
click 32
device scanner@contoso.com {APP}
tenant
"""


def smtp_auth(tenant: str, upn: str) -> str:
    """What the console's `tenant` says of a mailbox's SMTP AUTH switch: on, off or inherits."""
    return re.search(rf"{re.escape(upn)} +SMTP AUTH (\w+)", tenant).group(1)


def test_readiness_close_unused_oauth_onboarding_and_undo_of_each_step():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bot"], input=SCRIPT, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    found = sections(done.stdout)
    prompts = [prompt for prompt, _ in found]
    steps = ["\n".join(lines) for _, lines in found]
    assert prompts[0] == "riley> /smtp-readiness" and prompts[-1] == "avery> tenant"
    assert "Traceback" not in done.stdout + done.stderr

    # 1. The report: three mailboxes have SMTP AUTH on and no password sign-in in 30 days.
    assert "Enabled but unused: 3" in steps[0] and "[1 Close unused (3)]" in steps[0]
    # 2. Close unused: the report runs again and the clean-up's card goes in the report's thread.
    assert "replied in a thread:\n  SMTP AUTH clean-up: 3 mailboxes unused for 30 days" in steps[1]
    assert ("`admin@contoso.com` (enabled), `breakglass@contoso.com` (enabled), `fax@contoso.com` (enabled)"
            in steps[1]) and "[2 Approve] [3 Deny]" in steps[1]
    # 3. Two approvers: the first approval is recorded, the second applies it.
    assert "Approval 1 of 2 recorded" in steps[3]
    assert "3 of 3 turned off and verified" in steps[5] and "[6 Undo]" in steps[5]
    tenant = steps[6]
    assert [smtp_auth(tenant, f"{u}@contoso.com") for u in ("admin", "breakglass", "fax")] == ["off", "off", "off"]
    assert smtp_auth(tenant, "printer@contoso.com") == "on"  # in use: never proposed
    assert "Exchange: no app's service principal registered" in tenant

    # 4. OAuth onboarding of the scanner: refused before, the plan, Approve all, the bot's XOAUTH2 probe green.
    assert "535 5.7.3 Authentication unsuccessful" in steps[8]
    assert "SMTP OAuth onboarding for scanner@contoso.com" in steps[9] and "[13 Approve all 3]" in steps[9]
    onboarded = steps[11]
    assert onboarded.count("✅ Applied and verified") == 3
    assert "XOAUTH2 probe `scanner-oauth` with the device's app at" in onboarded
    assert "✅ signed in — 235 2.7.0 Authentication successful" in onboarded
    tenant = steps[12]
    assert smtp_auth(tenant, "scanner@contoso.com") == "on"
    assert re.search(re.escape(f"Exchange: app Scanner 3rd Floor (SMTP OAuth) ({APP}) registered; roles: Application "
                               "SMTP.SendAsApp (scope 'SMTP OAuth 3c9e7a51 scanner@contoso.com ") + r"[0-9a-f]{12}'\)",
                     tenant)  # the scope's name ends with a hash of app and mailbox, so two never collide
    assert "scanner-oauth (scanner@contoso.com): SMTP AUTH works." in steps[13]

    # 5. The report now reads the app's scoped role: the scanner can send with OAuth.
    report = steps[14]
    saved = Path(report.split("saved to ", 1)[1].splitlines()[0])
    try:
        rows = {r["account"]: r for r in csv.DictReader(saved.open())}
    finally:
        shutil.rmtree(saved.parent, ignore_errors=True)
    scanner = rows["scanner@contoso.com"]
    assert scanner["oauth"] == "True" and "Scanner 3rd Floor (SMTP OAuth) may send as it with a token" in scanner["why"]
    # OAuth, unless the demo's password probe of the scanner (scheduled) signed in within these 3 days
    assert scanner["class"] in ("OAuth", "Basic in use")

    # 6. Undo the clean-up: asked by the requester, two approvers; each mailbox gets its own prior value back.
    assert "Undo requested by @riley" in steps[16] and "[18 Approve undo] [19 Deny undo]" in steps[16]
    assert "Approval 1 of 2 recorded" in steps[18]
    assert "3 restored to their own prior value (inherits included)" in steps[20]
    tenant = steps[21]
    assert [smtp_auth(tenant, f"{u}@contoso.com") for u in ("admin", "breakglass", "fax")] == ["on", "on", "on"]

    # 7. Undo each onboarding step (the access first: the registration cannot go while a role uses it).
    final = steps[33]
    assert final.count("↩️ Undone at") == 3 and "restored no role for this mailbox" in final
    assert "restored not registered in Exchange" in final and "restored disabled" in final
    assert "535 5.7.3 Authentication unsuccessful" in steps[34]  # the device's token no longer signs in
    tenant = steps[35]
    assert smtp_auth(tenant, "scanner@contoso.com") == "off"
    assert "Exchange: no app's service principal registered" in tenant
