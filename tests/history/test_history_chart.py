"""The availability chart: bucketed series, one line per target in both panels, a PNG, the empty case."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from history_helpers import target
from matplotlib.colors import to_hex
from PIL import Image

from bot.chart import availability_chart, build_figure, render
from bot.clock import FakeClock
from bot.history import TargetSeries, Timeline, bucket_edges, timeline
from bot.store import Store


def test_timeline_buckets_availability_and_median_latency(store: Store, clock: FakeClock) -> None:
    now = clock.now()  # 09:00 UTC, a bucket boundary
    for minutes, ok, latency in ((50, True, 300), (45, True, 500), (40, False, 20_000), (35, True, None)):
        store.probes.record(
            "scanner", "scanner@contoso.com", ok, at=now - timedelta(minutes=minutes), latency_ms=latency
        )
    store.probes.record(
        "scanner", "scanner@contoso.com", True, at=now, latency_ms=100
    )  # joins the last bucket
    store.probes.record(
        "scanner", "scanner@contoso.com", False, at=now - timedelta(days=1, seconds=1)
    )  # too old
    store.probes.record("retired", "retired@contoso.com", False, at=now)  # no longer configured

    data = timeline(store, [target("scanner"), target("printer")], now, days=1)
    assert (data.start, data.end, data.bucket) == (now - timedelta(days=1), now, timedelta(hours=1))
    assert len(data.bucket_starts) == 24 and data.bucket_starts[-1] == now - timedelta(hours=1)
    scanner, printer = data.series
    assert scanner.availability[:-1] == [None] * 23 and scanner.availability[-1] == 80.0
    assert scanner.latency_p50_ms[-1] == 400.0 and scanner.probes == 5
    assert printer.probes == 0 and set(printer.availability) == {None} and not data.empty


def test_buckets_are_three_hours_past_two_days_and_aligned_to_the_clock(store: Store) -> None:
    now = datetime(2026, 11, 28, 10, 20, tzinfo=UTC)
    data = timeline(store, [target("scanner")], now, days=7)
    assert data.bucket == timedelta(hours=3) and data.start == datetime(2026, 11, 21, 9, tzinfo=UTC)
    assert data.bucket_starts[-1] == datetime(2026, 11, 28, 9, tzinfo=UTC) and data.empty


def test_bucket_edges_end_at_now_so_the_last_partial_bucket_is_drawn() -> None:
    start, three = datetime(2026, 11, 28, 3, tzinfo=UTC), timedelta(hours=3)
    now = datetime(2026, 11, 28, 10, 20, tzinfo=UTC)
    starts = [start, start + three, start + 2 * three]
    assert bucket_edges(starts, now) == [*starts, now]
    assert bucket_edges(starts, start + 2 * three) == [*starts[:2], start + 2 * three]
    assert bucket_edges([], now) == []


def test_a_new_install_draws_its_first_partial_bucket_and_says_no_data_before_it(store: Store) -> None:
    now = datetime(2026, 11, 28, 10, 20, tzinfo=UTC)  # 80 minutes into the 09:00 bucket
    for minutes in range(0, 80, 10):
        store.probes.record("scanner", "scanner@contoso.com", minutes > 30, at=now - timedelta(minutes=minutes))
    figure = build_figure(timeline(store, [target("scanner")], now))
    availability, latency = figure.axes
    [line] = availability.get_lines()
    xs, ys = line.get_xdata(), line.get_ydata()
    assert (xs[-2], xs[-1]) == (datetime(2026, 11, 28, 9, tzinfo=UTC), now) and latency.get_xlim()[1] >= 0
    assert ys[-1] == ys[-2] == pytest.approx(50.0)
    assert [t.get_text() for t in availability.texts] == ["no data yet"]


def test_the_figure_has_one_line_per_target_in_each_panel_with_distinct_colours(
    store: Store, clock: FakeClock
) -> None:
    now = clock.now()
    names = ["scanner", "printer", "erp"]
    for n, name in enumerate(names[:2]):
        for step in range(7 * 24):  # hourly for 7 days
            at = now - timedelta(hours=step)
            store.probes.record(
                name, f"{name}@contoso.com", step % (n + 7) != 0, at=at, latency_ms=300 + n * 100
            )

    figure = build_figure(timeline(store, [target(name) for name in names], now))
    availability, latency = figure.axes
    assert [len(axes.get_lines()) for axes in figure.axes] == [3, 3]
    [legend] = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == ["scanner", "printer", "erp (no probes)"]
    colours = [to_hex(line.get_color()) for line in availability.get_lines()]
    assert len(set(colours)) == 3 and colours == [to_hex(line.get_color()) for line in latency.get_lines()]
    assert figure.get_suptitle() == "SMTP AUTH probes in 3 h buckets, 21 Nov 09:00 – 28 Nov 09:00 UTC"
    assert latency.get_xlabel() == "time (UTC)" and availability.get_ylabel() == "availability %"
    assert latency.get_lines()[1].get_ydata()[-1] == pytest.approx(400)

    png = availability_chart(store, [target(name) for name in names], now)
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (1000, 600))


def test_many_targets_stay_distinguishable() -> None:
    start = datetime(2026, 11, 27, 9, tzinfo=UTC)
    series = [TargetSeries(f"t{n}", [100.0, 99.0], [300.0, 310.0], 2) for n in range(25)]
    figure = build_figure(Timeline(start, start + timedelta(hours=2), timedelta(hours=1), series))
    styles = {(to_hex(line.get_color()), line.get_linestyle()) for line in figure.axes[0].get_lines()}
    assert len(styles) == 25 and figure.get_suptitle().startswith("SMTP AUTH probes in 1 h buckets")


def test_no_probe_results_yet_is_an_image_too(store: Store, clock: FakeClock) -> None:
    figure = build_figure(timeline(store, [target("scanner")], clock.now()))
    assert figure.axes == [] and "No probe results yet" in [t.get_text() for t in figure.texts]
    image = Image.open(io.BytesIO(render(figure)))
    assert (image.format, image.size) == ("PNG", (1000, 600))
    assert Image.open(io.BytesIO(availability_chart(store, [], clock.now()))).size == (1000, 600)
