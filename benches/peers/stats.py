"""Statistics and report of the side-by-side run (pure: no server, no Ray)."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (0 < q <= 100) of an ascending sequence."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return float(ordered[int(rank) - 1])


@dataclass
class Point:
    """One load point on one system: deliveries are messages received by members
    other than the sender (decrypted, for mimi)."""

    sent: int
    expected: int
    delivered: int
    deliveries_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    send_seconds: float
    span_seconds: float  # first send to last delivery
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.delivered >= self.expected

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]], *, sent: int, expected: int, start_ns: int,
                     send_seconds: float, extra: dict[str, Any] | None = None) -> Point:
        """From receivers' records: {"latencies_ns": array('q') bytes, "last_ns": time of the last one}."""
        latencies = array("q")
        last = start_ns
        for record in records:
            latencies.frombytes(record["latencies_ns"])
            last = max(last, record["last_ns"])
        ordered = sorted(latencies)
        span = (last - start_ns) / 1e9
        ms = [None if v is None else round(v / 1e6, 3) for v in (percentile(ordered, 50), percentile(ordered, 99),
                                                                 percentile(ordered, 100))]
        return cls(sent, expected, len(ordered), round(len(ordered) / span, 1) if span > 0 else 0.0, ms[0], ms[1], ms[2],
                   round(send_seconds, 3), round(span, 3), extra or {})

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "complete": self.complete}


def load_name(rate: float | None) -> str:
    return "closed loop" if rate is None else f"{rate:g} msg/s"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    """The results table and the mimi/ejabberd ratio table.

    rows: {"system", "members", "rate" (None: closed loop), "point": Point.to_json()}."""
    out = [
        "| system | members | load | sent | deliveries | complete | deliveries/s | p50 ms | p99 ms |",
        "|---|---:|---|---:|---:|---|---:|---:|---:|",
    ]
    for row in rows:
        p = row["point"]
        out.append(f"| {row['system']} | {row['members']} | {load_name(row['rate'])} | {p['sent']} | {p['delivered']}/{p['expected']} "
                   f"| {'yes' if p['complete'] else 'NO'} | {p['deliveries_per_s']:,.0f} | {_ms(p['p50_ms'])} | {_ms(p['p99_ms'])} |")
    out += ["", "mimi / ejabberd (deliveries/s: above 1 is mimi faster; latency: above 1 is mimi slower):", "",
            "| members | load | deliveries/s | p50 | p99 |", "|---:|---|---:|---:|---:|"]
    for members, rate, mimi, ejabberd in pairs(rows):
        out.append(f"| {members} | {load_name(rate)} | {_ratio(mimi['deliveries_per_s'], ejabberd['deliveries_per_s'])} "
                   f"| {_ratio(mimi['p50_ms'], ejabberd['p50_ms'])} | {_ratio(mimi['p99_ms'], ejabberd['p99_ms'])} |")
    return "\n".join(out) + "\n"


def pairs(rows: list[dict[str, Any]]) -> list[tuple[int, float | None, dict[str, Any], dict[str, Any]]]:
    """(members, rate, mimi point, ejabberd point) for every load point both systems ran."""
    by_key = {(r["system"], r["members"], r["rate"]): r["point"] for r in rows}
    out = []
    for (system, members, rate), point in by_key.items():
        other = by_key.get(("ejabberd", members, rate))
        if system == "mimi" and other is not None:
            out.append((members, rate, point, other))
    return out
