"""Statistics of a load run (pure: no Ray, no clock, no files).

Every load message carries `(sequence, send time)` in its plaintext; each
receiving device records which `(sender, sequence)` it decrypted (`Tally`) and
when. From the senders' counts and those records, `account` finds what was
lost (expected at a receiver, never decrypted there) and what was duplicated
(decrypted there more than once); `summarize` adds throughput and latency.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

PERCENTILES = (50.0, 90.0, 99.0, 100.0)
BIN_S = 0.5  # seconds per bin of a phase's rate series


def percentile(ordered: Sequence[int] | Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (0 < q <= 100) of an ascending sequence; None if empty."""
    if not 0 < q <= 100:
        raise ValueError(f"percentile out of range: {q}")
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100)
    return float(ordered[int(rank) - 1])


def latency_ms(latencies_ns: Iterable[int]) -> dict[str, float | None]:
    """p50/p90/p99/max of send→decrypt latencies, in milliseconds."""
    ordered = sorted(latencies_ns)
    out: dict[str, float | None] = {}
    for q in PERCENTILES:
        value = percentile(ordered, q)
        out["max" if q == 100 else f"p{q:g}"] = None if value is None else round(value / 1e6, 3)
    return out


def rate_series(times_ns: Iterable[int], origin_ns: int, bin_s: float) -> list[float]:
    """Events per second in consecutive bins of `bin_s` seconds from `origin_ns`
    (events before the origin fall in the first bin)."""
    if bin_s <= 0:
        raise ValueError("bin_s must be > 0")
    width = int(bin_s * 1e9)
    counts: list[int] = []
    for t in times_ns:
        k = max(0, (t - origin_ns) // width)
        if k >= len(counts):
            counts.extend([0] * (k + 1 - len(counts)))
        counts[k] += 1
    return [c / bin_s for c in counts]


class Tally:
    """Which (sender, sequence) each receiver decrypted, and how often: one byte
    counter (saturating at 255) per sequence per (receiver, sender) pair."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], bytearray] = {}

    def record(self, receiver: str, sender: str, sequence: int) -> None:
        if sequence < 0:
            raise ValueError(f"negative sequence {sequence}")
        row = self.counts.get((receiver, sender))
        if row is None:
            row = self.counts[(receiver, sender)] = bytearray(max(64, sequence + 1))
        elif sequence >= len(row):
            row.extend(bytes(max(sequence + 1, 2 * len(row)) - len(row)))
        if row[sequence] < 255:
            row[sequence] += 1

    def export(self) -> list[tuple[str, str, bytes]]:
        return [(r, s, bytes(row)) for (r, s), row in self.counts.items()]

    @classmethod
    def merged(cls, exports: Iterable[Iterable[tuple[str, str, bytes]]]) -> Tally:
        tally = cls()
        for export in exports:
            for receiver, sender, row in export:
                mine = tally.counts.setdefault((receiver, sender), bytearray(len(row)))
                if len(mine) < len(row):
                    mine.extend(bytes(len(row) - len(mine)))
                for i, count in enumerate(row):
                    if count:
                        mine[i] = min(255, mine[i] + count)
        return tally


@dataclass(frozen=True, slots=True)
class Stream:
    """What one sender sent: sequences 0..sent-1, of which `refused` the hub did
    not accept (so nobody should decrypt them), to `receivers`."""

    sender: str
    sent: int
    receivers: tuple[str, ...]
    refused: frozenset[int] = frozenset()


@dataclass(frozen=True, slots=True)
class Accounting:
    expected: int  # decryptions owed: accepted messages × their receivers
    decrypted: int  # distinct (receiver, sender, sequence) decrypted among those owed
    lost: int  # owed and never decrypted
    duplicated: int  # decryptions beyond the first of one (receiver, sender, sequence)
    unexpected: int  # decrypted but never owed: refused, unsent, or at a non-member


def account(tally: Tally, streams: Iterable[Stream]) -> Accounting:
    expected = decrypted = duplicated = unexpected = 0
    owed_pairs: set[tuple[str, str]] = set()
    for stream in streams:
        for receiver in stream.receivers:
            owed_pairs.add((receiver, stream.sender))
            row = tally.counts.get((receiver, stream.sender), bytearray())
            head = bytes(row[: stream.sent]).ljust(stream.sent, b"\0")
            refused_seen = sum(1 for s in stream.refused if s < stream.sent and head[s])
            got = stream.sent - head.count(0) - refused_seen
            expected += stream.sent - len(stream.refused)
            decrypted += got
            unexpected += refused_seen + (len(row) - len(row[: stream.sent]) - row[stream.sent :].count(0))
            duplicated += sum(row) - (len(row) - row.count(0))
    for pair, row in tally.counts.items():
        if pair not in owed_pairs:
            unexpected += len(row) - row.count(0)
            duplicated += sum(row) - (len(row) - row.count(0))
    return Accounting(expected, decrypted, expected - decrypted, duplicated, unexpected)


@dataclass
class Summary:
    """One load phase: counts, rates and latency, as reported."""

    providers: int
    rooms: int
    members: int
    rate: float
    duration_s: float
    sent: int  # messages the hub accepted
    delivered: int  # FanoutMessages handed to receiving devices
    decrypted: int
    expected: int
    lost: int
    duplicated: int
    unexpected: int
    complete: bool
    send_seconds: float  # first to last submit answered
    span_seconds: float  # first send to last decryption
    messages_per_s: float
    deliveries_per_s: float  # decryptions per second over the span
    latency_ms: dict[str, float | None]
    cpu_s: dict[str, float] = field(default_factory=dict)  # per role, during the phase
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def summarize(*, providers: int, rooms: int, members: int, rate: float, duration_s: float, sent: int,
              delivered: int, accounting: Accounting, start_ns: int, send_seconds: float,
              decrypt_ns: Sequence[int], latencies_ns: Iterable[int], cpu_s: Mapping[str, float] | None = None,
              extra: Mapping[str, Any] | None = None) -> Summary:
    last = max(decrypt_ns, default=start_ns)
    span = max(0.0, (last - start_ns) / 1e9)
    return Summary(
        providers=providers, rooms=rooms, members=members, rate=rate, duration_s=duration_s, sent=sent,
        delivered=delivered, decrypted=accounting.decrypted, expected=accounting.expected, lost=accounting.lost,
        duplicated=accounting.duplicated, unexpected=accounting.unexpected,
        complete=accounting.lost == 0 and accounting.duplicated == 0 and accounting.unexpected == 0,
        send_seconds=round(send_seconds, 3), span_seconds=round(span, 3),
        messages_per_s=round(sent / send_seconds, 1) if send_seconds > 0 else 0.0,
        deliveries_per_s=round(accounting.decrypted / span, 1) if span > 0 else 0.0,
        latency_ms=latency_ms(latencies_ns), cpu_s=dict(cpu_s or {}), extra=dict(extra or {}),
    )


def cost_per_message_us(summary: Summary) -> dict[str, float]:
    """CPU microseconds per accepted message, per role (hub, providers, receivers, sender)."""
    if summary.sent == 0:
        return {}
    return {role: round(seconds * 1e6 / summary.sent, 1) for role, seconds in summary.cpu_s.items()}


@dataclass
class Phase:
    """One load phase's measurements, reduced for the report and the plots."""

    label: str
    summary: Summary
    origin_ns: int
    submit_ns: array[int]
    decrypt_ns: array[int]
    latency_ns: list[int]  # ascending
    receivers: int  # per room

    def series(self) -> dict[str, list[float]]:
        """Messages sent and decryptions per second, in bins of BIN_S from the first send."""
        return {
            "bin_s": [BIN_S],
            "sent_per_s": rate_series(self.submit_ns, self.origin_ns, BIN_S),
            "decrypted_per_s": rate_series(self.decrypt_ns, self.origin_ns, BIN_S),
        }

    def cdf(self, points: int = 100) -> list[tuple[float, float]]:
        """(latency ms, fraction) at `points` evenly spaced ranks."""
        n = len(self.latency_ns)
        if not n:
            return []
        return [(round(self.latency_ns[min(n - 1, -(-n * k // points) - 1)] / 1e6, 3), k / points) for k in range(1, points + 1)]
