"""The least-privilege clean-up in the console: proposed, refused for the requester, two approvers, undone exactly."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from test_console_demo import ROOT, sections

SCRIPT = """
cleanup --days 30 crm@contoso.com scanner@contoso.com
cleanup --days 30 crm@contoso.com fax@contoso.com
click 1
as avery
click 1
as gale
click 3
tenant
as riley
click 5
as avery
click 6
as gale
click 8
tenant
"""


def test_cleanup_in_the_console():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bot"], input=SCRIPT, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = ["\n".join(lines) for _, lines in sections(done.stdout)]

    assert "Not clean-up candidates: scanner@contoso.com: SMTP AUTH is already off for it." in steps[0]
    assert "SMTP AUTH clean-up: 2 mailboxes unused for 30 days" in steps[1]
    assert "`crm@contoso.com` (enabled), `fax@contoso.com` (enabled)" in steps[1]
    assert "someone else must approve it" in steps[2]
    assert "Approval 1 of 2 recorded" in steps[4] and "1 of 2 approvals so far: @avery" in steps[4]
    assert "2 of 2 turned off and verified" in steps[6]
    tenant = steps[7]
    assert re.search(r"crm@contoso.com +SMTP AUTH off", tenant) and re.search(r"fax@contoso.com +SMTP AUTH off", tenant)
    assert "Approval 1 of 2 recorded" in steps[11]
    assert "2 restored to their own prior value (inherits included)" in steps[13]
    again = steps[14]
    assert re.search(r"crm@contoso.com +SMTP AUTH on ", again) and re.search(r"fax@contoso.com +SMTP AUTH on ", again)
