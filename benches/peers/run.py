"""`make bench-peers`: the same room workload against ejabberd's MUC and against mimi.

One room of 10 / 100 / 500 members; one member sends 1 KiB messages, closed
loop (a window of messages in flight, acknowledged by the server) and at fixed
offered rates; every other member's receptions are timed (send → receive for
ejabberd, send → decrypt for mimi). ejabberd runs first (installed if missing,
127.0.0.1 only, stopped at the end even on error), then mimi on a local Ray
cluster. Writes docs/results/peers-<timestamp>.json and .md.

    python benches/peers/run.py [--members 10,100,500] [--rates closed,100,1000] [--duration 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from stats import Point, markdown

ROOT = Path(__file__).resolve().parents[2]


def cpu_seconds(pids: dict[str, list[int]]) -> dict[str, float]:
    """CPU time (user + system, s) of each group of processes."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = defaultdict(float)
    for name, group in pids.items():
        for pid in group:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[name] += (int(fields[11]) + int(fields[12])) / tick
    return dict(out)


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 2) for k in sorted(after) if after[k] - before.get(k, 0.0) > 0.05}


def run_points(system: str, make: Any, members: int, rates: list[float | None], args: argparse.Namespace,
               rows: list[dict[str, Any]], setups: dict[str, float]) -> None:
    """Runs every rate on one room; a point that left a backlog gets a fresh room
    for the next point, so one overload does not spill into the next measurement."""
    room = None
    try:
        for rate in rates:
            if room is None:
                room = make()
                room.start()
                setups[f"{system}/{members}"] = round(room.setup_seconds, 1)
            pids = room.pids()
            before = cpu_seconds(pids)
            window = args.window if rate is None else args.rate_window
            point: Point = room.run(rate, args.duration, args.drain, args.size, window)
            point.extra["server_cpu_seconds"] = cpu_used(before, cpu_seconds(pids))
            point.extra["loadavg_1m"] = round(os.getloadavg()[0], 1)  # other work on the machine shows here
            rows.append({"system": system, "members": members, "rate": rate, "point": point.to_json()})
            print(f"{system:8} {members:4} {rate or 'closed'!s:>6}: {point.deliveries_per_s:>9,.0f} deliveries/s "
                  f"p50 {point.p50_ms} ms p99 {point.p99_ms} ms {point.delivered}/{point.expected} "
                  f"cpu {point.extra['server_cpu_seconds']} load {point.extra['loadavg_1m']}", flush=True)
            if not point.complete:
                room.stop()
                room = None
    finally:
        if room is not None:
            room.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", default="10,100,500")
    parser.add_argument("--rates", default="closed,100,1000", help="'closed' or msg/s, comma-separated")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of sending per point")
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to wait for deliveries after sending")
    parser.add_argument("--size", type=int, default=1024, help="message body bytes")
    parser.add_argument("--window", type=int, default=64, help="messages in flight, closed loop")
    parser.add_argument("--rate-window", type=int, default=2000,
                        help="cap on messages in flight at fixed rates (high: the offered rate is kept)")
    parser.add_argument("--systems", default="ejabberd,mimi,mimi-https",
                        help="mimi: its providers over in-cluster Ray calls; mimi-https: over HTTPS with mutual TLS")
    parser.add_argument("--xmpp-processes", type=int, default=2)
    parser.add_argument("--data-root", default="/dev/shm",
                        help="where mimi's SQLite files go (tmpfs: fsync costs nothing, as ejabberd keeps MUC in memory)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "results"))
    args = parser.parse_args()
    members = [int(m) for m in args.members.split(",")]
    rates = [None if r == "closed" else float(r) for r in args.rates.split(",")]
    systems = args.systems.split(",")
    rows: list[dict[str, Any]] = []
    setups: dict[str, float] = {}
    started = time.time()

    if "ejabberd" in systems:
        from ejabberd import Ejabberd
        from xmpp_side import XmppRoom

        with Ejabberd() as server:
            for n in members:
                run_points("ejabberd", lambda n=n: XmppRoom(server, n, args.xmpp_processes), n, rates, args,
                           rows, setups)
    mimi_systems = {"mimi": "ray", "mimi-https": "https"}
    if mimi_systems.keys() & set(systems):
        import mimi_side

        mimi_side.start()
        for system, transport in mimi_systems.items():
            if system in systems:
                for n in members:
                    run_points(system, lambda n=n, t=transport: mimi_side.MimiRoom(n, args.data_root, t), n, rates, args,
                               rows, setups)

    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(started))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_at_end": [round(x, 1) for x in os.getloadavg()]},
        "ejabberd": ejabberd_version() if "ejabberd" in systems else None,
        "params": {k: v for k, v in vars(args).items() if k != "out"},
        "setup_seconds": setups,
        "definitions": {
            "deliveries": "messages received by members other than the sender (decrypted, for mimi)",
            "deliveries/s": "deliveries / (last delivery - first send)",
            "latency": "send (scheduled send time at fixed rates) -> receive (ejabberd) / decrypt (mimi), CLOCK_MONOTONIC",
            "closed loop": "window messages in flight; ejabberd: freed by the room's reflected copy to the sender; "
                           "mimi: freed by the hub's SubmitMessageResponse",
            "server_cpu_seconds": "CPU seconds per process during the point (ejabberd: its beam.smp; mimi: each kind "
                                  "of actor; client: the XMPP load client's worker processes)",
        },
    }
    (out / f"peers-{stamp}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = markdown(rows)
    (out / f"peers-{stamp}.md").write_text(
        f"# ejabberd MUC vs mimi, one room ({stamp})\n\n`{meta['command']}` on {os.cpu_count()} cores; "
        f"{args.size} B messages, {args.duration:g} s per point, one sender.\n\n{table}"
    )
    print(table)
    print(f"wrote {out / f'peers-{stamp}.json'} and .md")
    return 0


def ejabberd_version() -> str:
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", "ejabberd"], capture_output=True, text=True).stdout
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
