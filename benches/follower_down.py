"""What a hub whose follower is down costs: CPU of the hub actor's process.

    python benches/follower_down.py [--seconds 10] [--messages 200]

A local Ray cluster; a room on h.example (the hub) with a member on f.example.
The hub's process CPU time (every thread, Ray's own included; `RoomHub.stats`)
is read over `--seconds` twice: all followers up and idle, then with f.example
killed for good (`no_restart=True`) after `--messages` were sent that it never
got; and, for scale, that of an actor that does nothing (Ray's own threads).
The target is under 1% of a core (docs/guarantees.md, "Servers"); before the
backoff, the hub resent at once, ~81,000 calls/s and 86% of a core.
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from typing import Any

from mimi import content
from mimi.actors.deploy import Deployment, start_ray

ROOM = "mimi://h.example/r/down"
HUB, FOLLOWER = "mimi://h.example", "mimi://f.example"
HAL, FAY = "mimi://h.example/d/hal/phone", "mimi://f.example/d/fay/phone"


class Idle:
    """An actor that does nothing: what Ray's own threads cost a process."""

    def stats(self) -> dict[str, float]:
        return {"cpu_seconds": time.process_time()}


def cpu(actor: Any, seconds: float) -> float:
    """The actor process's CPU time over `seconds` of wall time, as a fraction of one core."""
    import ray

    before, started = ray.get(actor.stats.remote())["cpu_seconds"], time.monotonic()
    time.sleep(seconds)
    after, ended = ray.get(actor.stats.remote())["cpu_seconds"], time.monotonic()
    return float((after - before) / (ended - started))


def measure(seconds: float, messages: int) -> dict[str, Any]:
    import ray

    start_ray(num_cpus=2)
    with tempfile.TemporaryDirectory() as data_dir:
        d = Deployment(data_dir)
        try:
            d.provider(HUB)
            d.provider(FOLLOWER)
            hub = d.room_hub(ROOM, HUB)
            hal, fay = d.clients("hal", [HAL]), d.clients("fay", [FAY])
            ray.get([hal.publish_key_packages.remote(HAL, 1), fay.publish_key_packages.remote(FAY, 1)])
            ray.get(hal.create_room.remote(HAL, ROOM, "cooperative"))
            assert ray.get(hal.add_users.remote(HAL, ROOM, ["mimi://f.example/u/fay"]))["code"] == "success"
            d.settle(ROOM)
            idle = cpu(hub, seconds)

            ray.kill(d.providers.pop(FOLLOWER), no_restart=True)
            text = content.encode(content.message(content.text_part("unheard")))
            for _ in range(messages):
                assert ray.get(hal.send.remote(HAL, ROOM, text))["status"] == "accepted"
            down = cpu(hub, seconds)
            lag = ray.get(hub.lag.remote())[FOLLOWER]
            nothing = cpu(ray.remote(num_cpus=0)(Idle).remote(), seconds)
            return {
                "seconds": seconds,
                "hub_cpu_all_up_idle": round(idle, 5),
                "hub_cpu_follower_down": round(down, 5),
                "idle_actor_cpu": round(nothing, 5),
                "follower_pending": lag.pending,
                "follower_failed_attempts": lag.failures,
                "next_attempt_in_s": round(lag.next_attempt_in, 2),
            }
        finally:
            d.shutdown()
            ray.shutdown()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--messages", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(measure(args.seconds, args.messages), indent=2))
