"""The floor of the ack-latency bench: a trivial Bolt app that acks every command and click and does nothing else.

Served like the bot (gunicorn, same workers and threads): gunicorn 'bench.floor_app:create_app()'. Reads
SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and SLACK_API_URL; answers /healthz for the bench's readiness wait.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient


def create_app() -> Callable[..., Iterable[bytes]]:
    # Like the bot, it asks the Slack stand-in (SLACK_API_URL) who it is once, on its first request.
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    bolt = App(signing_secret=os.environ["SLACK_SIGNING_SECRET"], client=client, token_verification_enabled=False,
               process_before_response=True)

    @bolt.command(re.compile(".*"))
    def command(ack: Ack) -> None:
        ack(text="ok")

    @bolt.action(re.compile(".*"))
    def action(ack: Ack) -> None:
        ack()

    slack = SlackRequestHandler(bolt)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
            return [b"ok"]
        return slack(environ, start_response)

    return application
