"""A Slack outage lived through by a real bot process: every `chat.*` call answers 503 while a request is opened
and a probe alert fires; when Slack is back there is exactly one card and one alert thread, and nothing died.

A separate process cannot share the test's FakeClock, so this outage is real but short: the outbox's backoff is
capped at 0.2 s (`slack.outbox_max_backoff_seconds`) and the outage lasts until each message has failed more
than the 8 attempts after which messages used to be dropped. The 30-minute outage on the simulated clock is
`tests/slack/test_slack_outage.py` (in-process, same outbox).
"""

from __future__ import annotations

from tests.faults.processes import UPN, Cluster
from tests.slack.slack_helpers import REQUESTER, wait_until

OLD_ATTEMPT_LIMIT = 8


def outbox_items(cluster: Cluster) -> list:
    return [item for n in range(1, 200) if (item := cluster.store.outbox.get(n)) is not None]


def test_a_slack_outage_loses_no_card_and_no_alert_and_posts_each_once(cluster: Cluster):
    probes = ("  targets:\n    - name: printer\n      mailbox: printer@contoso.com\n"
              "      password: ${PRINTER_SMTP_PASSWORD}\n")
    sandbox = cluster.sandbox
    cluster.settings |= {
        "  alert_channel:\n": "  alert_channel: C0ALERTS\n",
        "  outbox_max_backoff_seconds: 300": "  outbox_max_backoff_seconds: 0.2",
        "  interval_minutes: 60": "  interval_minutes: 0.02", "  lease_seconds: 30": "  lease_seconds: 1",
        "  failures_before_alert: 2": "  failures_before_alert: 1",
        "  smtp_host:\n": "  smtp_host: localhost\n", "  port: 587": f"  port: {sandbox.smtp.port}",
        "  ca_bundle:\n  # Mailboxes": f"  ca_bundle: {sandbox.ca_path}\n  # Mailboxes", "  targets: []\n": probes}
    cluster.env |= {"PRINTER_SMTP_PASSWORD": "not-the-password"}  # every probe fails: an alert
    outage = cluster.standin.faults.add(method="chat.*", kind="status", status=503, times=None)
    bot = cluster.start("a")
    cluster.sender(bot).command("/smtp-enable", UPN, user_id=REQUESTER)

    def failed_long_enough() -> bool:
        attempts = {}
        for item in outbox_items(cluster):
            attempts[item.kind] = max(attempts.get(item.kind, 0), item.attempts)
        return min(attempts.get("card", 0), attempts.get("alert", 0)) > OLD_ATTEMPT_LIMIT
    wait_until(failed_long_enough, timeout=30, what="card and alert each failing more than 8 times")
    assert cluster.cards() == [] and cluster.cards("C0ALERTS") == []
    assert not [i for i in outbox_items(cluster) if i.state == "dead"]

    cluster.standin.faults.remove(outage.id)
    card = cluster.wait_card("step_approve")
    wait_until(lambda: cluster.store.requests.list()[0].message_ts == card.ts, what="the card's ts stored")
    [opening] = wait_until(lambda: cluster.cards("C0ALERTS"), what="the alert")
    wait_until(lambda: cluster.store.outbox.backlog() == 0, what="the outbox drained")
    alerts = cluster.standin.messages("C0ALERTS")
    assert all(m.thread_ts == opening.ts for m in alerts if m.ts != opening.ts)  # one thread
    assert len(cluster.cards()) == 1 and len(cluster.cards("C0ALERTS")) == 1
    # nothing died; the probe keeps failing every 1.2 s, so a fresh alert update may be in flight at any moment:
    # wait for an instant with every item delivered rather than read one that may catch an update mid-send
    assert not [i for i in outbox_items(cluster) if i.state == "dead"]
    wait_until(lambda: {i.state for i in outbox_items(cluster)} == {"delivered"}, what="every item delivered")
