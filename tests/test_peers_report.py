"""The report code of `make bench-peers` (benches/peers/stats.py): percentiles,
points from receivers' records, the ratio table. No server, no Ray."""

from __future__ import annotations

import sys
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches" / "peers"))

from stats import Point, markdown, percentile


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 50) is None


def record(latencies_ms: list[int], last_ns: int) -> dict[str, object]:
    return {"latencies_ns": array("q", [v * 1_000_000 for v in latencies_ms]).tobytes(), "last_ns": last_ns}


def test_point_merges_receivers() -> None:
    start = 1_000_000_000
    point = Point.from_records([record([1, 2, 3], start + 1_000_000_000), record([4], start + 2_000_000_000)],
                               sent=2, expected=4, start_ns=start, send_seconds=1.0)
    assert (point.delivered, point.complete, point.span_seconds) == (4, True, 2.0)
    assert point.deliveries_per_s == 2.0
    assert (point.p50_ms, point.p99_ms, point.max_ms) == (2.0, 4.0, 4.0)
    short = Point.from_records([record([5], start + 1)], sent=2, expected=4, start_ns=start, send_seconds=1.0)
    assert not short.complete


def test_markdown_ratio_table() -> None:
    start = 0
    mimi = Point.from_records([record([10, 20], 1_000_000_000)], sent=2, expected=2, start_ns=start, send_seconds=1.0)
    xmpp = Point.from_records([record([5, 5, 5, 5], 1_000_000_000)], sent=4, expected=4, start_ns=start, send_seconds=1.0)
    rows = [
        {"system": "ejabberd", "members": 10, "rate": 100.0, "point": xmpp.to_json()},
        {"system": "mimi", "members": 10, "rate": 100.0, "point": mimi.to_json()},
        {"system": "mimi", "members": 500, "rate": None, "point": mimi.to_json()},  # no ejabberd row: no ratio
    ]
    table = markdown(rows)
    assert "| ejabberd | 10 | 100 msg/s | 4 | 4/4 | yes | 4 | 5.0 | 5.0 |" in table
    assert "| mimi | 500 | closed loop |" in table
    ratios = table.split("mimi / ejabberd")[1]
    assert "| 10 | 100 msg/s | 0.50 | 2.00 | 4.00 |" in ratios
    assert "| 500 |" not in ratios
