"""Parse a pasted SMTP reply (log line, multi-line reply, Python exception) into code, status, text and suffix."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

_STATUS = r"[245]\.\d{1,3}\.\d{1,3}"
_STATUS_END = r"(?![\w]|\.\d)"
# A basic code followed by an enhanced status anywhere ("Error: Invalid login: 535 5.7.139 ...").
_CODE_AND_STATUS = re.compile(rf"(?<![\w.])([2-5]\d\d)[ -]({_STATUS}){_STATUS_END}")
# A basic code alone, only at the very start ("535 Authentication unsuccessful").
_LEADING_CODE = re.compile(r"\A\s*([2-5]\d\d)(?=[ -]|\Z)[ -]?")
# An enhanced status alone ("5.7.57 SMTP; Client was not authenticated ...").
_STATUS_ONLY = re.compile(rf"(?<![\w.])({_STATUS}){_STATUS_END}")
# Exchange's trailing "[server timestamp id]" or "[Hostname=server]" block (not a bracketed IP address).
_SUFFIX = re.compile(r"\[\s*(?:Hostname=)?[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+){2,}(?:\s[^\[\]]*)?\]")
_SMTP_PREFIX = re.compile(r"\A[\s:;,-]*(?:smtp\s*;)?[\s:;,-]*", re.IGNORECASE)
# Python's `(535, b'5.7.139 ...')` as printed by smtplib exceptions; adjacent literals are concatenated.
_PY_HEAD = re.compile(r"\(\s*([2-5]\d\d)\s*,\s*(?=[bB]?['\"])")
_PY_LITERAL = re.compile(r"\s*([bB]?)(['\"])((?:\\.|(?!\2).)*)\2", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """One SMTP reply as parsed; `text` has no code, status or suffix and its whitespace is collapsed."""

    code: int | None
    enhanced_status: str | None
    text: str
    suffix: str | None
    raw: str
    preamble: str = ""
    """Whatever the client printed before the reply, e.g. "Error: Invalid login:"."""

    @property
    def normalised(self) -> str:
        """The reply on one line without the server suffix, e.g. "535 5.7.3 Authentication unsuccessful"."""
        parts = (str(self.code) if self.code is not None else "", self.enhanced_status or "", self.text)
        return " ".join(part for part in parts if part)


def parse_reply(text: str) -> Reply:
    """Split a pasted reply into its parts; never fails, unknown shapes keep everything in `text`."""
    outer, body = _unwrap_python(text)
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    code, status, preamble, rest = _split_start(body)
    found = code is not None or status is not None
    if found:
        rest = _join_continuations(rest, code, status)
    rest = _collapse(rest)
    suffixes = _SUFFIX.findall(rest)
    if suffixes:
        rest = _collapse(_SUFFIX.sub(" ", rest))
    if found:
        rest = _SMTP_PREFIX.sub("", rest)
    return Reply(
        code=code,
        enhanced_status=status,
        text=rest,
        suffix=_collapse(suffixes[-1]) if suffixes else None,
        raw=text,
        preamble=_collapse(f"{outer} {preamble}"),
    )


def _unwrap_python(text: str) -> tuple[str, str]:
    """(what precedes the tuple, "535 message") for a pasted `(535, b'...')`; ("", text) otherwise."""
    head = _PY_HEAD.search(text)
    if head is None:
        return "", text
    pos, parts = head.end(), []
    while (literal := _PY_LITERAL.match(text, pos)) is not None:
        parts.append(_unescape(*literal.groups()))
        pos = literal.end()
    if not parts:
        return "", text
    return text[: head.start()], f"{head.group(1)} {''.join(parts)}"


def _unescape(prefix: str, quote: str, body: str) -> str:
    try:
        value = ast.literal_eval(f"{prefix}{quote}{body}{quote}")
    except (ValueError, SyntaxError):
        return body.replace("\\r\\n", "\n").replace("\\n", "\n")
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _split_start(body: str) -> tuple[int | None, str | None, str, str]:
    """(code, status, text before the reply, the reply after its code and status), from the earliest match."""
    candidates = []
    if both := _CODE_AND_STATUS.search(body):
        candidates.append((both.start(), 0, int(both.group(1)), both.group(2), both))
    if leading := _LEADING_CODE.match(body):
        candidates.append((leading.start(1), 1, int(leading.group(1)), None, leading))
    if alone := _STATUS_ONLY.search(body):
        candidates.append((alone.start(), 2, None, alone.group(1), alone))
    if not candidates:
        return None, None, "", body
    start, _, code, status, match = min(candidates, key=lambda c: (c[0], c[1]))
    return code, status, body[:start], body[match.end() :]


def _join_continuations(rest: str, code: int | None, status: str | None) -> str:
    """Drop the "535-"/"535 " and repeated "5.7.139" that start each continuation line of a multi-line reply."""
    prefix = "".join(
        (
            rf"(?:{code}[ -])?" if code is not None else "",
            rf"(?:{re.escape(status)}{_STATUS_END})?" if status is not None else "",
        )
    )
    lines = rest.split("\n")
    return "\n".join([lines[0], *(re.sub(rf"\A\s*{prefix}", "", line) for line in lines[1:])])


def _collapse(text: str) -> str:
    return " ".join(text.split())
