"""Framework-free request/reply values and the error bodies Entra ID, Graph and Exchange Online send."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

ODATA_JSON = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
ENTRA_JSON = "application/json; charset=utf-8"
EXCHANGE_SERVER = "NAMPR12A001DC01.NAMPR12A001.PROD.OUTLOOK.COM"
EXCHANGE_THROTTLED = (
    "You have reached the maximum number of concurrent requests per tenant. Please wait and try again."
)


@dataclass
class Call:
    """One request to a stand-in service (a real HTTP request or one item of a Graph JSON batch)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    base_url: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    in_batch: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body or b"null")

    @property
    def client_request_id(self) -> str:
        return self.header("client-request-id") or self.request_id


@dataclass(frozen=True)
class BatchItemSummary:
    """One item of a Graph JSON batch, as the request log keeps it."""

    id: str
    method: str
    url: str
    status: int


@dataclass
class Reply:
    """A response: JSON for dict/list bodies, raw for bytes, empty for None. `drop` closes the connection."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    batch_items: list[BatchItemSummary] | None = None

    def content(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body).encode()


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def graph_error(call: Call, now: datetime, status: int, code: str, message: str) -> Reply:
    """Graph's error body: `{"error": {code, message, innerError: {date, request-id, client-request-id}}}`."""
    inner = {
        "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": call.request_id,
        "client-request-id": call.client_request_id,
    }
    return Reply(status, {"error": {"code": code, "message": message, "innerError": inner}})


def graph_throttled(call: Call, now: datetime) -> Reply:
    reply = graph_error(call, now, 429, "TooManyRequests", "Please retry again later.")
    reply.body["error"]["innerError"].update(
        {"code": "429", "message": "Please retry after", "status": "429"}
    )
    return reply


def exchange_error(status: int, code: str, exception: str, text: str, *, tag: str = "Ex6F9304") -> Reply:
    """InvokeCommand's error body; the useful text is in `details[0].message` as `tag|ExceptionType|text`."""
    return Reply(
        status,
        {
            "error": {
                "code": code,
                "message": "Error executing cmdlet",
                "details": [{"message": f"{tag}|{exception}|{text}"}],
                "innererror": {
                    "message": text,
                    "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    "internalexception": {"message": text, "type": exception},
                },
            }
        },
    )


def nul_403() -> Reply:
    """The Exchange admin API's 403: a run of NUL bytes declared as gzip, which clients cannot decode."""
    return Reply(403, b"\x00" * 16, {"Content-Encoding": "gzip", "Content-Type": "application/json"})


def entra_error(now: datetime, status: int, error: str, code: int, text: str) -> Reply:
    """The token endpoint's error body, with `AADSTS<code>: <text>` and the trace lines Entra appends."""
    timestamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    trailer = f"Trace ID: {trace_id}\r\nCorrelation ID: {correlation_id}\r\nTimestamp: {timestamp}"
    description = f"AADSTS{code}: {text}\r\n{trailer}"
    return Reply(
        status,
        {
            "error": error,
            "error_description": description,
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )
