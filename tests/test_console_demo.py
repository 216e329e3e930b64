"""The one-command sandbox as a newcomer meets it: `python -m bot` with a piped script, asserted on the transcript."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = """
# A printer's mailbox inherits the organisation's "SMTP AUTH off".
/smtp-enable copier@contoso.com
click 1
as avery
click 1
# The scheduled probes, run now: both demo targets are checked.
probe
# An admin turns SMTP AUTH off for the printer's mailbox; two failed probes raise one alert.
break printer@contoso.com
probe
probe
# Every button shown has its own number: 24 is the printer alert's Fix, though the scanner's alerts (its password
# and its app's XOAUTH2 target) came first.
as riley
click 24
as gale
home
click 36
probe
tenant
/smtp-explain 535 5.7.139 Authentication unsuccessful, the user credentials were incorrect.
/smtp-status chart
users
click 1
"""


def sections(transcript: str) -> dict[str, list[str]]:
    """The transcript split at each prompt line (`name> command`), in order."""
    found: list[tuple[str, list[str]]] = []
    for line in transcript.splitlines():
        if "> " in line and line.split("> ", 1)[0] in ("riley", "avery", "gale", "sam"):
            found.append((line, []))
        elif found:
            found[-1][1].append(line)
    return found  # type: ignore[return-value]


def test_piped_demo_script():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bot"], input=SCRIPT, capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    steps = sections(done.stdout)
    prompts = [prompt for prompt, _ in steps]
    bodies = ["\n".join(lines) for _, lines in steps]

    assert prompts[0] == "riley> /smtp-enable copier@contoso.com" and prompts[14] == "gale> tenant"
    plan = bodies[0]
    assert "[#smtp-ops] smtp-auth-bot posted" in plan and "SMTP AUTH plan for copier@contoso.com" in plan
    assert "[1 Approve] [2 Deny]" in plan
    assert "(only riley) You asked for this change, so someone else must approve it." in bodies[1]
    approved = bodies[3]
    assert prompts[3] == "avery> click 1"
    assert "updated its message" in approved and "Applied and verified" in approved and "@avery" in approved
    # The requester is told each outcome in the card's thread, mentioned.
    assert "replied in a thread:\n  @riley CR-" in approved and "was approved by @avery at" in approved
    assert "copier@contoso.com was applied and verified at" in approved

    first_probe = bodies[4]
    assert "probe printer (printer@contoso.com): ok" in first_probe
    assert "probe scanner (scanner@contoso.com): smtp_auth_disabled_mailbox" in first_probe

    assert "is now broken" in bodies[5]
    alert = bodies[7]  # the second failed probe of the printer
    assert "[#mail-alerts] smtp-auth-bot posted" in alert and "printer · printer@contoso.com" in alert
    assert "SmtpClientAuthentication is disabled for the Mailbox" in alert and "[24 Fix]" in alert

    fix = bodies[9]
    assert prompts[9] == "riley> click 24" and "riley clicks [Fix]" in fix
    # The plan goes in the alert's thread, and the alert (redrawn, so its buttons are numbered anew) links it.
    assert "replied in a thread:\n  SMTP AUTH plan for printer@contoso.com" in fix and "[34 Approve] [35 Deny]" in fix
    assert "Fix plan in the thread: CR-" in fix and "by @riley" in fix
    assert "App Home of gale" in bodies[11] and "[36 Approve] [37 Deny]" in bodies[11]
    assert "gale clicks [Approve]" in bodies[12]  # on App Home, which answers with a notice at its top
    assert "App Home of gale (refreshed):\n  :speech_balloon: You clicked Approve at " in bodies[12]
    assert "Approved; applying it now." in bodies[12]
    assert "Applied and verified" in bodies[12] and "@gale" in bodies[12]

    recovery = bodies[13]
    assert "probe printer (printer@contoso.com): ok" in recovery
    assert "replied in a thread" in recovery and "ecovered" in recovery

    assert "printer@contoso.com" in bodies[14] and "SMTP AUTH on" in bodies[14]
    assert "bad_credentials" in bodies[15]
    assert "uploaded smtp-auth-availability.png" in bodies[16]
    saved = Path(bodies[16].split("saved to ", 1)[1].splitlines()[0])
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert "scanner@contoso.com" in bodies[17] and "SMTP AUTH off for the mailbox" in bodies[17]
    assert "fax@contoso.com" in bodies[17] and "AllowBasicAuthSmtp off" in bodies[17]
    assert "Button 1 was on an earlier version of that message; its buttons are now 3." in bodies[18]
    assert done.stdout.rstrip().endswith("Sandbox stopped.")
    assert "Traceback" not in done.stdout + done.stderr


def test_the_console_runs_the_readiness_report_with_its_card_and_csv():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("M365_", "SLACK_", "APP_CONFIG", "DATABASE_URL"))}
    done = subprocess.run([sys.executable, "-m", "bot"], input="/smtp-readiness --days 7\nhelp\n", capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    report, help_text = ("\n".join(lines) for _, lines in sections(done.stdout))
    assert "[#smtp-ops] smtp-auth-bot posted" in report and "SMTP AUTH readiness for the end of Basic auth" in report
    assert "Basic in use: 3" in report and "`printer@contoso.com`: 17 sign-in(s)" in report
    assert "uploaded smtp-auth-readiness-" in report and ".csv" in report
    assert "/smtp-readiness [--days N]" in help_text
