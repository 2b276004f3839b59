"""What a load run does, its bounds, and the `mimi loadtest` options (light: no Ray).

One table of limits serves both the command line (argparse types, so a bad
value is an argparse error naming the option) and `Config` built in code.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import NamedTuple

from mimi.loadtest.faults import Faults


class Limit(NamedTuple):
    low: float
    high: float
    above: bool = False  # the low bound is excluded (rate > 0)

    def check(self, name: str, value: float) -> None:
        if value != value or (value <= self.low if self.above else value < self.low) or value > self.high:
            low = f"> {self.low:g}" if self.above else f">= {self.low:g}"
            raise ValueError(f"{name} must be {low} and <= {self.high:g}, got {value:g}")


LIMITS: dict[str, Limit] = {
    "providers": Limit(1, 26),
    "rooms": Limit(1, 64),  # one RoomHub actor per room
    "members": Limit(2, 1000),  # Welcome processing is O(members) per member at setup
    "rate": Limit(0, 100_000, above=True),
    "duration": Limit(0, 3600, above=True),
    "size": Limit(64, 65_536),  # the marker needs ~45 bytes
    "fleets": Limit(1, 16),
    "window": Limit(1, 4096),
    "drain": Limit(0, 3600),
    "sweep_rate": Limit(0, 100_000, above=True),
    "sweep_duration": Limit(0, 600, above=True),
}


@dataclass(frozen=True)
class Config:
    providers: int = 3
    rooms: int = 1
    members: int = 20  # per room, the sender included
    rate: float = 50.0  # messages per second, over all rooms (the default room sustains it on 2 cores)
    duration: float = 10.0  # seconds of sending
    size: int = 1024  # plaintext bytes per message
    fleets: int = 3  # receiving FleetHost actors (the senders have one more)
    window: int = 64  # /submitMessage calls in flight
    drain: float = 60.0  # seconds to wait after sending for the last decryptions
    sweep: tuple[int, ...] = ()  # extra one-room phases at these room sizes
    sweep_rate: float = 50.0
    sweep_duration: float = 3.0
    faults: Faults | None = None  # injected into the main phase
    transport: str = "ray"  # between providers: in-cluster calls, or "https" (mutual TLS on 127.0.0.1)

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in LIMITS:
                LIMITS[f.name].check(f.name, getattr(self, f.name))
        for size in self.sweep:
            LIMITS["members"].check("sweep room size", size)


def _typed(name: str, kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
            LIMITS[name].check(name.replace("_", "-"), value)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err) if "must be" in str(err) else f"not a number: {text!r}") from err
        return value

    parse.__name__ = kind.__name__  # argparse names the type in "invalid int value"
    return parse


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.split(",") if s.strip())
        for size in sizes:
            LIMITS["members"].check("each room size", size)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"a comma-separated list of room sizes: {err}") from err
    if not sizes or len(sizes) > 12:
        raise argparse.ArgumentTypeError("between 1 and 12 room sizes, e.g. 2,10,50")
    return tuple(sorted(set(sizes)))


def _faults(text: str) -> Faults:
    try:
        return Faults.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = Config()
    p.add_argument("--providers", type=_typed("providers", int), default=d.providers, help=f"providers (default {d.providers})")
    p.add_argument("--rooms", type=_typed("rooms", int), default=d.rooms, help=f"rooms, hubs spread over the providers (default {d.rooms})")
    p.add_argument("--members", type=_typed("members", int), default=d.members,
                   help=f"devices per room, one sender among them, spread over the providers (default {d.members})")
    p.add_argument("--rate", type=_typed("rate", float), default=d.rate, help=f"messages per second over all rooms (default {d.rate:g})")
    p.add_argument("--duration", type=_typed("duration", float), default=d.duration, help=f"seconds of sending (default {d.duration:g})")
    p.add_argument("--size", type=_typed("size", int), default=d.size, help=f"plaintext bytes per message (default {d.size})")
    p.add_argument("--fleets", type=_typed("fleets", int), default=d.fleets, help=f"receiving FleetHost actors (default {d.fleets})")
    p.add_argument("--window", type=_typed("window", int), default=d.window, help=f"submits in flight (default {d.window})")
    p.add_argument("--drain", type=_typed("drain", float), default=d.drain,
                   help=f"seconds to wait after sending for the last decryptions (default {d.drain:g})")
    p.add_argument("--sweep", type=_sizes, default=(), metavar="SIZES",
                   help="also run one room of each size (e.g. 2,10,50) for the cost-vs-room-size plot")
    p.add_argument("--sweep-rate", type=_typed("sweep_rate", float), default=d.sweep_rate,
                   help=f"message rate of each sweep phase (default {d.sweep_rate:g})")
    p.add_argument("--sweep-duration", type=_typed("sweep_duration", float), default=d.sweep_duration,
                   help=f"seconds of each sweep phase (default {d.sweep_duration:g})")
    p.add_argument("--faults", type=_faults, metavar="SPEC",
                   help="inject faults into the main phase while it sends: kill-hosts:N client hosts killed at random "
                   "moments and restarted from SQLite (each host, the sender's first, before any twice), kill-hub:N "
                   "room hubs and kill-providers:N providers (the followers) killed the same way, adds:N and "
                   "removes:N users added to and removed from each room (their commits race), readds:N removed "
                   "users added again, seed:N for the draws; e.g. kill-hosts:4,adds:2,removes:2,readds:1,seed:1. "
                   "Lost and duplicated then count what every device shows against the hub's log (exit 1 unless "
                   "both are 0), and recovery.png plots each killed host's time to catch up")
    p.add_argument("--transport", choices=("ray", "https"), default=d.transport,
                   help="between providers: in-cluster Ray calls (default) or HTTPS with mutual TLS on 127.0.0.1, "
                   "each provider behind its own front, a throwaway CA made at start")
    p.add_argument("--out", help="output directory (default: a fresh ./loadtest-results/<timestamp>)")
    p.add_argument("--data-dir", help="where the run's SQLite files go, in a fresh directory removed at the end "
                   "(default: the system's temporary directory; /dev/shm takes fsync out of the measurement)")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def from_args(args: argparse.Namespace) -> Config:
    return Config(**{f.name: getattr(args, f.name) for f in fields(Config)})
