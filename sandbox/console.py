"""The one-command sandbox: the real bot, a stand-in tenant, SMTP server and Slack, driven from a terminal.

`python -m bot` with no credentials (through `sandbox/cli.py`) starts, in this process, the sandbox tenant (Entra ID, Graph,
Exchange), its SMTP server, the Slack Web API stand-in, and the real bot wired to them through
configuration only: the same Bolt app (reached with signed requests, as Slack would), workflow, outbox
and probe scheduler. The console plays Slack's part: slash commands go to the bot, and every message the
bot posts or updates is printed as text with buttons numbered once since start, to `click`. Piped input is a script.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shlex
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from werkzeug.serving import make_server

from bot.cli import run_diagnose
from bot.config import AppConfig, with_overrides
from bot.diagnosis import explain, format_explanation
from bot.errors import BotError
from bot.m365.tenant import connect
from bot.probe import probe
from bot.probe.model import ProbeTarget
from bot.runtime import Runtime, build_runtime
from bot.slack.app import create_bolt_app, wsgi_app
from bot.slack.text import Button, render
from sandbox.console_buttons import ButtonBook, Clickable, Place
from sandbox.launcher import Sandbox, start_sandbox
from sandbox.slack import SlackMessage, SlackStandin, start_slack_standin
from sandbox.slack_client import SlackSender
from sandbox.smtp_auth import what_blocks

#: Console names of the stand-in's people, and who they are in the demo.
PEOPLE = {
    "riley": ("U0REQUEST", "helpdesk, asks for changes"),
    "avery": ("U0APPROVE", "approver"),
    "gale": ("U0INGROUP", "approver through the @smtp-admins user group"),
    "sam": ("U0RANDOM", "bystander"),
}
CHANNELS = {"C0OPS": "#smtp-ops", "C0ALERTS": "#mail-alerts"}
#: The demo's probe targets: mailboxes of the sandbox tenant, with their sandbox-only passwords.
DEMO_TARGETS = [
    {"name": "printer", "mailbox": "printer@contoso.com", "password": "Printer-Sandbox-1"},
    {"name": "scanner", "mailbox": "scanner@contoso.com", "password": "Scanner-Sandbox-1"},
]
#: The scanner's own app (seeded in Entra ID, not yet in Exchange): `/smtp-oauth scanner@contoso.com --app DEMO_APP`.
DEMO_APP = "3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809"


def demo_targets(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The demo's probe targets, and the scanner signing in with its own app's token (XOAUTH2): the probe that
    turns green once the OAuth onboarding is approved. The app's secret is the one the sandbox generated."""
    oauth = {"name": "scanner-oauth", "mailbox": "scanner@contoso.com", "auth": "xoauth2", "client_id": DEMO_APP,
             "client_secret": sandbox.state.client_secret(DEMO_APP)}
    return [*DEMO_TARGETS, oauth]
SETTLE_SECONDS = 20.0

HELP = """Slash commands (sent to the bot as the current person, signed like Slack does):
  /smtp-enable UPN [--org] [--oauth]   diagnose a mailbox and post a plan with Approve / Deny buttons
  /smtp-status [UPN | chart]           open requests and probe results (chart: a PNG of 7 days, saved to a file)
  /smtp-explain REPLY                  what an Exchange SMTP reply means and what fixes it
  /smtp-probe TARGET                   probe a configured target now (printer, scanner, scanner-oauth)
  /smtp-readiness [--days N]           readiness for the end of Basic auth: who uses a password, a card and a CSV;
                                       its Close unused button proposes SMTP AUTH off where nothing used it
  /smtp-oauth UPN --app APP_ID [--full-access]
                                       onboard a device's app to OAuth (XOAUTH2): a plan with gated, undoable
                                       steps; the demo app is 3c9e7a51-2b84-4f0d-9e16-a5d7c4b2e809 (scanner)
Acting:
  as NAME          act as riley (requester), avery or gale (approvers) or sam (bystander)
  click N          click button N: every button shown gets its own number, on any message or App Home
  home             open the App Home tab as the current person (its buttons can be clicked too)
The sandbox:
  probe            run the scheduled probes of every target now (alerts follow the real policy)
  tenant           what the sandbox tenant's settings are now (mailbox switches, apps registered in Exchange)
  break UPN        turn SMTP AUTH off for a mailbox       mend UPN   turn it back on
  break mfa UPN    enforce per-user MFA for a user        mend mfa UPN
  users            the demo mailboxes and what blocks each
  device UPN APP_ID  sign in as the device would: the app's token (client credentials) and AUTH XOAUTH2
Least privilege by hand (the readiness card's Close unused proposes it from the sign-in logs):
  cleanup [--days N] [--org] UPN...   propose SMTP AUTH off for mailboxes you know to be unused (two
                                      approvers); --org: also the organisation switch off, if it is on
Also: diagnose UPN [--app APP_ID] (read-only, no Slack), explain REPLY, help, quit (or Ctrl-D)."""


@dataclass
class World:
    """Everything the sandboxed bot runs against, started in this process."""

    sandbox: Sandbox
    standin: SlackStandin
    runtime: Runtime
    sender: SlackSender
    stop: Callable[[], None]


@contextlib.contextmanager
def sandbox_world(cfg: AppConfig, *, probe_minutes: float = 1.0) -> Iterator[World]:
    """Start the sandbox, the Slack stand-in and the real bot on loopback; stop them all afterwards."""
    with tempfile.TemporaryDirectory(prefix="smtp-auth-bot-sandbox-") as workdir:
        sandbox = start_sandbox(Path(workdir))
        bot_token, signing_secret = f"xoxb-sandbox-{secrets.token_hex(8)}", secrets.token_urlsafe(24)
        standin = start_slack_standin(bot_token=bot_token)
        cfg = with_overrides(cfg, {
            "m365": sandbox.m365_settings(),
            "slack": {"bot_token": bot_token, "signing_secret": signing_secret, "api_url": standin.api_url,
                      "app_token": None, "approvers": ["U0APPROVE", "S0ADMINS"], "alert_channel": "C0ALERTS"},
            "probes": {"smtp_host": "localhost", "port": sandbox.smtp.port, "ca_bundle": str(sandbox.ca_path),
                       "interval_minutes": probe_minutes, "timeout_seconds": 5, "targets": demo_targets(sandbox)},
            "database": {"url": f"sqlite:///{workdir}/sandbox.db"},
        })
        runtime = build_runtime(cfg)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # werkzeug logs each request at INFO otherwise
        server = make_server("127.0.0.1", 0, wsgi_app(create_bolt_app(runtime), runtime), threaded=True)
        # poll_interval: `stop` waits for the loop to see the shutdown request (socketserver's default is 0.5 s).
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="bot-http",
                         daemon=True).start()
        runtime.outbox.poll_seconds = 0.05
        runtime.start()
        sender = SlackSender(f"http://127.0.0.1:{server.server_port}", signing_secret, standin=standin)

        def stop() -> None:
            server.shutdown()
            runtime.stop()
            standin.stop()
            sandbox.stop()

        try:
            yield World(sandbox, standin, runtime, sender, stop)
        finally:
            stop()


@dataclass
class Console:
    world: World
    out: IO[str]
    user: str = "riley"
    buttons: ButtonBook = field(default_factory=ButtonBook)
    seen: dict[tuple[str, str], int] = field(default_factory=dict)  # message -> versions printed
    seen_ephemerals: int = 0
    files_dir: Path | None = None

    @property
    def user_id(self) -> str:
        return PEOPLE[self.user][0]

    def say(self, text: str = "") -> None:
        print(text, file=self.out)

    # Driving the bot ---------------------------------------------------------------------------
    def slash(self, line: str) -> None:
        command, _, text = line.partition(" ")
        answer = self.world.sender.command(command, text.strip(), user_id=self.user_id)
        if answer.status_code != 200:
            self.say(f"  (Slack would show: the app did not respond, HTTP {answer.status_code})")
        else:
            self._ack(answer)
        self.settle()

    def _ack(self, answer: Any) -> None:
        if not answer.content:
            return
        try:
            body = answer.json()
        except ValueError:
            body = {"text": answer.text}
        if body.get("blocks"):
            self.show_blocks("(only you) smtp-auth-bot", body["blocks"], None)
        elif body.get("text"):
            self.say(f"(only you) {body['text']}")

    def click(self, number: str) -> None:
        found = self.buttons.find(number, self.user)
        if isinstance(found, str):
            self.say(found)
            return
        button, sender = found.button, self.world.sender
        self.say(f"{self.user} clicks [{button.text}]" + (f" and confirms: {button.confirm}" if button.confirm else ""))
        shown = self.world.standin.home(self.user_id)
        self._press(found, button, sender)
        self.settle()
        if (found.place or ("", ""))[0] == "home":  # App Home answers a click by publishing itself again
            view = self.world.standin.home(self.user_id)
            if view and (shown is None or view["hash"] != shown["hash"]):
                self.show_blocks(f"App Home of {self.user} (refreshed)", view["blocks"], ("home", self.user_id))

    def _press(self, found: Clickable, button: Button, sender: SlackSender) -> None:
        where, key = found.place or ("", "")
        if where == "home":
            view = self.world.standin.home(self.user_id) or {}
            sender.click_in_home(button.action_id, button.value, user_id=self.user_id, view=view)
        else:
            sender.click(button.action_id, button.value, user_id=self.user_id, channel_id=where, message_ts=key,
                         ephemeral=found.visible_to is not None)

    def probe(self) -> None:
        runtime = self.world.runtime
        for target in runtime.cfg.probes.targets:
            result = runtime.probe_now(target)
            self.say(f"probe {target.name} ({target.mailbox}): "
                     + ("ok" if result.ok else f"{result.cause} in {result.phase}: {result.message}"))
        self.settle()

    def home(self) -> None:
        self.world.sender.app_home_opened(user_id=self.user_id)
        self.settle()
        view = self.world.standin.home(self.user_id)
        if view:
            self.show_blocks(f"App Home of {self.user}", view["blocks"], ("home", self.user_id))

    # Waiting and printing --------------------------------------------------------------------------
    def settle(self) -> None:
        """Wait until the bot has finished what the last action started, then print what changed in Slack."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline and not self.world.runtime.idle():
            time.sleep(0.05)
        self.flush()

    def flush(self) -> None:
        for channel in CHANNELS:
            for message in self.world.standin.messages(channel):
                printed = self.seen.get((channel, message.ts), 0)
                if len(message.versions) > printed:
                    self.seen[(channel, message.ts)] = len(message.versions)
                    self.show_message(channel, message, updated=printed > 0)
        ephemerals = self.world.standin.ephemerals()
        for message in ephemerals[self.seen_ephemerals:]:
            who = next((n for n, (uid, _) in PEOPLE.items() if uid == message.visible_to), message.visible_to)
            if message.blocks:
                self.show_blocks(f"(only {who}) smtp-auth-bot", message.blocks, (message.channel, message.ts), who)
            else:
                self.say(f"(only {who}) {message.text}")
        self.seen_ephemerals = len(ephemerals)
        for file in self.world.standin.files():
            key = ("file", file.id)
            if file.completed and key not in self.seen:
                self.seen[key] = 1
                self.say(f"[{CHANNELS.get(file.channels[0], '') if file.channels else ''}] smtp-auth-bot uploaded "
                         f"{file.filename} ({file.length} bytes): {file.title}")
                if file.data:
                    self.say(f"  saved to {self.save(file.filename, file.data)}")

    def show_message(self, channel: str, message: SlackMessage, *, updated: bool) -> None:
        where = CHANNELS.get(channel, channel)
        verb = "updated its message" if updated else ("replied in a thread" if message.thread_ts else "posted")
        self.show_blocks(f"[{where}] smtp-auth-bot {verb}", message.blocks, (channel, message.ts),
                         fallback=message.text)

    def show_blocks(self, title: str, blocks: list[dict[str, Any]], place: Place, visible_to: str | None = None,
                    fallback: str = "") -> None:
        text, buttons = render(blocks, self.buttons.next_number) if blocks else (fallback, [])
        self.buttons.record(place, buttons, visible_to)
        for name, (uid, _) in PEOPLE.items():
            text = text.replace(f"@{uid}", f"@{name}")
        self.say(f"{title}:")
        for line in text.splitlines():
            self.say(f"  {line}" if line else "")

    def save(self, filename: str, data: bytes) -> Path:
        """Write an uploaded file where the user can open it; the sandbox's own directory goes at exit."""
        if self.files_dir is None:
            self.files_dir = Path(tempfile.mkdtemp(prefix="smtp-auth-bot-files-"))
        path = self.files_dir / Path(filename).name
        path.write_bytes(data)
        return path

    # The sandbox's knobs ---------------------------------------------------------------------------
    def tenant(self) -> None:
        state = self.world.sandbox.state
        contoso = state.tenant("contoso")
        self.say(f"Tenant contoso: security defaults {'on' if contoso.security_defaults_enabled else 'off'}, "
                 f"SMTP AUTH for the organisation {'off' if contoso.smtp_client_authentication_disabled else 'on'}"
                 f"{', Basic auth retired' if state.basic_auth_retired else ''}")
        for user in contoso.users:
            box = user.mailbox
            smtp = "no mailbox" if box is None else {None: "inherits", True: "off", False: "on"}[
                box.smtp_client_authentication_disabled]
            self.say(f"  {user.user_principal_name:<26} SMTP AUTH {smtp:<10} MFA {user.per_user_mfa_state:<9}"
                     f"{'' if user.account_enabled else ' sign-in blocked'}")
        access = contoso.app_access
        if not access.service_principals:
            self.say("  Exchange: no app's service principal registered")
        for sp in access.service_principals:
            roles = [f"{a.role} ({f'scope {a.custom_resource_scope!r}' if a.custom_resource_scope else 'organisation'})"
                     for a in access.assignments if a.app == sp.object_id]
            grants = [f"{','.join(p.access_rights)} on {contoso.user(p.mailbox_id).user_principal_name}"
                      for p in access.mailbox_permissions if p.user == sp.object_id and contoso.user(p.mailbox_id)]
            self.say(f"  Exchange: app {sp.display_name} ({sp.app_id}) registered; "
                     f"roles: {'; '.join(roles) or 'none'}; mailbox permissions: {'; '.join(grants) or 'none'}")

    def set(self, words: list[str], broken: bool) -> None:
        contoso = self.world.sandbox.state.tenant("contoso")
        mfa = len(words) == 2 and words[0] == "mfa"
        upn = (words[1] if mfa else words[0] if len(words) == 1 else "").lower()
        user = contoso.user(upn) if upn else None
        if user is None or (not mfa and user.mailbox is None):
            self.say("Usage: break UPN | break mfa UPN (and mend ...), for a sandbox user with a mailbox.")
            return
        with self.world.sandbox.state.lock:
            if mfa:
                user.per_user_mfa_state = "enforced" if broken else "disabled"
            else:
                user.mailbox.smtp_client_authentication_disabled = broken
        what = "per-user MFA" if mfa else "SMTP AUTH for the mailbox"
        self.say(f"(sandbox) {what} of {upn} is now {'broken' if broken else 'mended'}, as if an admin changed it.")

    def users(self) -> None:
        self.say("People in the Slack stand-in (use 'as NAME'):")
        for name, (uid, role) in PEOPLE.items():
            self.say(f"  {name:<6} {uid:<10} {role}{'  <- you' if name == self.user else ''}")
        self.say("Demo mailboxes of the sandbox tenant contoso.com, and what blocks SMTP AUTH for each now:")
        state = self.world.sandbox.state
        for user in state.tenant("contoso").users:
            self.say(f"  {user.user_principal_name:<26} {user.display_name:<22} {what_blocks(state, user)}")

    def device(self, upn: str, app_id: str) -> None:
        """What the device does after onboarding: a token for its app from Entra ID, then AUTH XOAUTH2."""
        runtime, sandbox = self.world.runtime, self.world.sandbox
        try:
            secret = sandbox.state.client_secret(app_id.lower())
        except KeyError:
            self.say(f"(sandbox) no app {app_id} in the sandbox's Entra ID.")
            return
        cfg = with_overrides(runtime.cfg, {"m365": {**sandbox.m365_settings(), "client_id": app_id.lower(),
                                                    "client_secret": secret}})
        try:
            token = connect(cfg.m365).tokens.token(cfg.m365.exchange_scope)
        except BotError as exc:
            self.say(f"device {upn}: no token for app {app_id}: {exc.describe()}")
            return
        target = ProbeTarget(host="localhost", port=sandbox.smtp.port, mailbox=upn.lower(), auth="xoauth2",
                             ca_file=str(sandbox.ca_path), timeout=5, name="device")
        result = probe(target, credential=token)
        self.say(f"device {upn} (XOAUTH2, app {app_id}): "
                 + ("ok, 235 Authentication successful" if result.ok else f"{result.cause}: {result.message}"))

    # The loop --------------------------------------------------------------------------------------
    def handle(self, line: str) -> bool:
        """Run one console line; False to leave."""
        if line.startswith("/"):
            self.slash(line)
            return True
        words = shlex.split(line) if line.count('"') % 2 == 0 else line.split()
        command, rest = words[0].lower(), words[1:]
        if command in ("quit", "exit"):
            return False
        if command == "help":
            self.say(HELP)
        elif command == "as" and rest and rest[0].lower() in PEOPLE:
            self.user = rest[0].lower()
            self.say(f"You are now {self.user} ({PEOPLE[self.user][1]}).")
        elif command == "click" and rest:
            self.click(rest[0])
        elif command == "probe":
            self.probe()
        elif command == "home":
            self.home()
        elif command == "tenant":
            self.tenant()
        elif command in ("break", "mend"):
            self.set(rest, command == "break")
        elif command == "users":
            self.users()
        elif command == "device" and len(rest) == 2:
            self.device(rest[0], rest[1])
        elif command == "diagnose" and rest:
            self.diagnose(rest)
        elif command == "cleanup" and rest:
            self.cleanup(rest)
        elif command == "explain" and rest:
            self.say(format_explanation(explain(line.split(None, 1)[1])))
        else:
            self.say(f"Unknown command '{line}'. Type 'help'.")
        return True

    def diagnose(self, words: list[str]) -> None:
        app = words[words.index("--app") + 1] if "--app" in words[:-1] else None
        upns = [w for w in words if not w.startswith("--") and w != app]
        run_diagnose(self.world.runtime.tenant(), upns, as_json=False,
                     auth_mode="oauth" if "--oauth" in words else "basic", include_org="--org" in words,
                     out=self.out, app_id=app, route="full_access" if "--full-access" in words else "scoped")


    def cleanup(self, words: list[str]) -> None:
        """A clean-up request as the current person, as the readiness report will open it, its card in #smtp-ops."""
        days, org, upns = 30, "--org" in words, [w for w in words if w != "--org"]
        if "--days" in upns:
            at = upns.index("--days")
            value = upns[at + 1] if at + 1 < len(upns) else ""
            if not value.isdigit():
                self.say("Usage: cleanup [--days N] [--org] UPN...")
                return
            days, upns = int(value), upns[:at] + upns[at + 2:]
        flow = self.world.runtime.workflow
        view = flow.open_cleanup(flow.read_candidates(upns), days, self.user_id, "C0OPS", org_unused=org)
        self.say(f"{view.request.id} opened: {view.request.upn} ({len(view.steps)} step(s)).")
        self.settle()


def run_console(cfg: AppConfig, stdin: IO[str], out: IO[str]) -> int:
    if cfg.logging.level == "DEBUG":
        logging.getLogger().setLevel(logging.DEBUG)
    with sandbox_world(cfg) as world:
        console = Console(world, out)
        print("smtp-auth-bot sandbox: the real bot against a stand-in Microsoft 365 tenant (contoso.com), an "
              "Exchange-like SMTP server and a stand-in Slack workspace, all on this machine.", file=out)
        print("No Slack or Microsoft 365 credentials are set, so nothing here touches a real tenant or workspace.",
              file=out)
        print("You are riley (helpdesk). Type 'help' for commands; 'quit' or Ctrl-D leaves.", file=out)
        interactive = stdin.isatty()
        while True:
            if interactive:
                out.write(f"{console.user}> ")
                out.flush()
            line = stdin.readline()
            if not line:
                break
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not interactive:
                print(f"\n{console.user}> {line}", file=out)
            try:
                if not console.handle(line):
                    break
            except BotError as exc:
                print(f"error: {exc.describe()}", file=out)
        print("Sandbox stopped.", file=out)
    return 0
