"""`certificate_time` reads a certificate's notAfter as `ssl.cert_time_to_seconds` does; it refuses anything else."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime

import pytest

from bot.probe.wire import certificate_time


@pytest.mark.parametrize("text", ["Jan  5 09:00:00 2027 GMT", "Feb 29 12:00:00 2028 GMT", "Dec 31 23:59:59 2049 GMT",
                                  "Jun 10 00:00:01 1999 GMT"])
def test_as_the_standard_library_reads_it(text: str) -> None:
    assert certificate_time(text) == datetime.fromtimestamp(ssl.cert_time_to_seconds(text), UTC)


@pytest.mark.parametrize("text", ["", "Foo  5 09:00:00 2027 GMT", "Jan  5 09:00 2027 GMT", "Jan  5 09:00:00 2027 PST",
                                  "Feb 30 00:00:00 2027 GMT", "2027-01-05T09:00:00Z"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a certificate time"):
        certificate_time(text)
