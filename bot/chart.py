"""The availability chart: availability and median latency per target as a PNG; Agg, no pyplot."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, DateFormatter
from matplotlib.figure import Figure

from bot.history import Timeline, timeline
from bot.store import Store

SIZE_INCHES = (10.0, 6.0)
DPI = 100  # 1000 x 600 pixels
_LABEL_CHARS = 24


def availability_chart(store: Store, targets: Sequence[Any], now: datetime, days: int = 7) -> bytes:
    """A PNG of the last `days` of probes of `targets` (objects with `name`): availability and latency."""
    return render(build_figure(timeline(store, targets, now, days)))


def render(figure: Figure) -> bytes:
    """`figure` as PNG bytes."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def build_figure(data: Timeline) -> Figure:
    """Two panels sharing a UTC time axis: availability % and p50 latency, one line per target, one legend."""
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    span = f"{_stamp(data.start)} – {_stamp(data.end)} UTC"
    if data.empty:
        figure.suptitle(f"SMTP AUTH probes, {span}")
        figure.text(0.5, 0.5, "No probe results yet", ha="center", va="center", fontsize=22, color="dimgray")
        return figure
    minutes = round(data.bucket.total_seconds() / 60)
    size = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
    figure.suptitle(f"SMTP AUTH probes in {size} buckets, {span}")
    # A fixed layout (constrained layout would double the drawing time): the legend gets the right fifth.
    availability, latency = figure.subplots(
        2,
        1,
        sharex=True,
        gridspec_kw={"left": 0.07, "right": 0.79, "top": 0.92, "bottom": 0.11, "hspace": 0.08},
    )
    times = data.edges  # each bucket is a step from its start to the next edge; the last ends at now
    for n, series in enumerate(data.series):
        color, style = _style(n, len(data.series))
        label = _short(series.target) + ("" if series.probes else " (no probes)")
        common = {"color": color, "linestyle": style, "linewidth": 1.6, "drawstyle": "steps-post"}
        availability.plot(times, _steps(series.availability), label=label, **common)
        latency.plot(times, _steps(series.latency_p50_ms), **common)
    lowest = min((v for s in data.series for v in s.availability if v is not None), default=100.0)
    availability.set_ylim(max(0.0, math.floor(lowest / 10) * 10 - 5), 101)
    availability.set_ylabel("availability %")
    latency.set_ylabel("latency p50 (ms)")
    latency.set_ylim(bottom=0)
    latency.set_xlim(data.start, data.end)
    latency.set_xlabel("time (UTC)")
    latency.xaxis.set_major_locator(AutoDateLocator(tz=UTC, maxticks=10))
    latency.xaxis.set_major_formatter(DateFormatter("%d %b\n%H:%M", tz=UTC))
    for axes in (availability, latency):
        axes.grid(True, alpha=0.3)
    _mark_no_data(availability, data)
    figure.legend(
        loc="upper left",
        bbox_to_anchor=(0.8, 0.92),
        fontsize="small",
        title="target",
        ncols=math.ceil(len(data.series) / 24),
    )  # about 24 rows fit beside the panels
    return figure


def _mark_no_data(axes: Any, data: Timeline) -> None:
    """"no data yet" over the stretch before the first probe (a new install), so it does not read as a gap."""
    first = min(i for i in range(len(data.bucket_starts)) if any(s.availability[i] is not None for s in data.series))
    if first > 0:
        middle = data.start + (data.bucket_starts[first] - data.start) / 2
        axes.text(middle, 0.5, "no data yet", transform=axes.get_xaxis_transform(), ha="center", va="center",
                  fontsize=14, color="dimgray")


def _short(name: str) -> str:
    """A target name that fits the legend's column."""
    return name if len(name) <= _LABEL_CHARS else name[: _LABEL_CHARS - 1] + "…"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%d %b %H:%M")


def _style(n: int, count: int) -> tuple[Any, str]:
    """A distinct colour per target: tab10 up to 10 targets, else tab20; past 20, other line styles."""
    colours = colormaps["tab10" if count <= 10 else "tab20"].colors
    return colours[n % len(colours)], ("-", "--", ":", "-.")[n // len(colours) % 4]


def _steps(values: list[float | None]) -> list[float]:
    """One value per edge for a `steps-post` line (the last repeated to close its bucket); None as NaN, a gap."""
    return [math.nan if v is None else v for v in [*values, values[-1]]]
