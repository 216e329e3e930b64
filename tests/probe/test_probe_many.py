"""`probe_many`: results in order, at most three connections per mailbox, a cap on all connections."""

from __future__ import annotations

import ssl
import threading

from smtp_fakes import ExchangeLike, FakeServer

from bot.probe import MailboxLimiter, ProbeTarget, probe_many

PASSWORDS = {"a@contoso.com": "secret-a", "b@contoso.com": "secret-b"}


def targets(port: int, ca_file: str, mailboxes: list[str]) -> list[ProbeTarget]:
    return [
        ProbeTarget(
            host="127.0.0.1",
            port=port,
            mailbox=mailbox,
            ca_file=ca_file,
            server_hostname="localhost",
            timeout=2.0,
            name=f"t{index}",
        )
        for index, mailbox in enumerate(mailboxes)
    ]


def password_for(target: ProbeTarget) -> str:
    return PASSWORDS[target.mailbox.lower()]


def test_at_most_three_connections_per_mailbox(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = ExchangeLike(tls=good_tls, passwords=PASSWORDS, hold=0.08)
    mailboxes = ["a@contoso.com"] * 7 + ["B@contoso.com"] * 4
    with FakeServer(server) as fake:
        results = probe_many(targets(fake.port, ca_file, mailboxes), credential_for=password_for)
    assert [r.name for r in results] == [f"t{i}" for i in range(11)]
    assert all(r.ok for r in results), [r.message for r in results if not r.ok]
    assert server.stats.most["a@contoso.com"] == 3
    assert server.stats.most["b@contoso.com"] == 3
    assert server.stats.most["*"] >= 4  # the two mailboxes ran side by side


def test_max_concurrency_caps_all_connections(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = ExchangeLike(tls=good_tls, passwords=PASSWORDS, hold=0.05)
    with FakeServer(server) as fake:
        results = probe_many(
            targets(fake.port, ca_file, ["a@contoso.com", "b@contoso.com"] * 3),
            credential_for=password_for,
            max_concurrency=2,
        )
    assert all(r.ok for r in results)
    assert server.stats.most["*"] <= 2


def test_a_shared_limiter_holds_across_calls(good_tls: ssl.SSLContext, ca_file: str) -> None:
    server = ExchangeLike(tls=good_tls, passwords=PASSWORDS, hold=0.08)
    limiter = MailboxLimiter(per_mailbox=2)
    with FakeServer(server) as fake:
        batch = targets(fake.port, ca_file, ["a@contoso.com"] * 4)
        calls = [
            threading.Thread(
                target=probe_many, args=(batch,), kwargs={"credential_for": password_for, "limiter": limiter}
            )
            for _ in range(2)
        ]
        for call in calls:
            call.start()
        for call in calls:
            call.join()
    assert server.stats.most["a@contoso.com"] == 2
    assert len(server.stats.messages) == 0 and server.stats.verbs().count("QUIT") == 8


def test_empty() -> None:
    assert probe_many([], credential_for=password_for) == []
