"""`mimi demo`: the seed's Figure 1 on Ray, end to end.

Providers x.example and z.example (followers) and y.example (hub of the room).
Alice and Bob on x (clients A, B); Charlie on y with two devices (C, D); Diana
and Evelyn on z (E, F). Every provider, the room's hub and every client are Ray
actors with their own SQLite files; they exchange the protocol's bodies. The
providers share one Ray (2 cores) but, over the `https` transport (the default),
reach each other only over HTTPS with mutual TLS on 127.0.0.1, through each
provider's front (`mimi.transport.loopback`); `ray` keeps the in-cluster calls.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mimi import content
from mimi.actors.deploy import Deployment
from mimi.errors import MimiError
from mimi.transport.loopback import LoopbackFederation

HUB = "mimi://y.example"
ROOM = "mimi://y.example/r/clubhouse"
PROVIDERS = ("mimi://x.example", "mimi://y.example", "mimi://z.example")
DEVICES = {
    "A": "mimi://x.example/d/alice/phone",
    "B": "mimi://x.example/d/bob/phone",
    "C": "mimi://y.example/d/charlie/phone",
    "D": "mimi://y.example/d/charlie/laptop",
    "E": "mimi://z.example/d/diana/phone",
    "F": "mimi://z.example/d/evelyn/phone",
    "A2": "mimi://x.example/d/alice/tablet",
}
USERS = {  # the users Charlie adds (with all their devices), and his own second device
    "charlie": ("mimi://y.example/u/charlie", ["D"]),
    "alice": ("mimi://x.example/u/alice", ["A"]),
    "bob": ("mimi://x.example/u/bob", ["B"]),
    "diana": ("mimi://z.example/u/diana", ["E"]),
    "evelyn": ("mimi://z.example/u/evelyn", ["F"]),
}


class RayDemo:
    def __init__(self, data_dir: str, preset: str = "cooperative", burst: int = 100, transport: str = "https") -> None:
        import ray

        self.ray = ray
        self.transport = transport
        self.federation: LoopbackFederation | None = None
        self.preset = preset
        self.burst = burst
        self.fanout: dict[str, float] = {}
        self.deploy = Deployment(data_dir)
        self.log: list[str] = []
        self.started = time.monotonic()

    def say(self, line: str) -> None:
        self.log.append(line)

    def call(self, name: str, method: str, *args: Any) -> Any:
        uri = DEVICES[name]
        return self.ray.get(getattr(self.deploy.host(uri), method).remote(uri, *args))

    def check(self, result: dict[str, Any], what: str) -> None:
        if result["code"] != "success":
            raise MimiError(f"{what}: {result['code']}: {result['reason']}")

    def send(self, name: str, message: content.MimiContent, label: str) -> bytes:
        result = self.call(name, "send", ROOM, content.encode(message))
        if result["status"] != "accepted":
            raise MimiError(f"{name} could not send {label}: {result['status']}")
        self.say(f"{name} sends {label}")
        message_id: bytes = result["message_id"]
        return message_id

    def run(self) -> None:
        d = self.deploy
        if self.transport == "https":
            self.federation = LoopbackFederation(list(PROVIDERS), Path(d.data_dir) / "tls")
            d.transport = self.federation.transport
        for provider in PROVIDERS:
            d.provider(provider)
        d.room_hub(ROOM, HUB)
        for name, uri in DEVICES.items():
            if name != "A2":  # Alice's tablet comes later
                d.clients(name, [uri])
                self.call(name, "publish_key_packages", 3)
        over = "HTTPS with mutual TLS on 127.0.0.1" if self.federation else "Ray (in-cluster calls)"
        self.say(f"providers {', '.join(PROVIDERS)} up, federated over {over}; y.example hosts {ROOM}")

        self.call("C", "create_room", ROOM, self.preset)
        self.say(f"C (Charlie) creates the room with the {self.preset} preset")
        self.check(self.call("C", "add_users", ROOM, [uri for uri, _ in USERS.values()]), "add everyone")
        d.settle(ROOM)
        self.say("C adds his laptop D, Alice, Bob, Diana and Evelyn (KeyPackages through the hub's /keyMaterial)")

        hello = content.message(content.text_part("Hi everyone!"))
        hello_id = self.send("A", hello, "a greeting")
        d.settle(ROOM)
        reply = content.reply(hello_id, content.text_part("Hello Alice!"))
        reply_id = self.send("E", reply, "a reply")
        self.send("B", content.reaction(hello_id, "\N{HEAVY BLACK HEART}"), "a reaction")
        d.settle(ROOM)
        self.send("E", content.edit(reply, reply_id, content.text_part("Hello Alice, welcome!")), "an edit")
        oops = content.message(content.text_part("wrong room, sorry"))
        oops_id = self.send("C", oops, "a message")
        d.settle(ROOM)
        self.send("C", content.delete(oops, oops_id), "its delete")
        d.settle(ROOM)

        before = self.views()
        refused = self.call("B", "set_role", ROOM, USERS["diana"][0], 1)
        self.say(f"B tries to ban Diana: hub answers {refused['code']} ({refused['reason']})")
        d.settle(ROOM)
        if refused["code"] == "success" or self.views() != before:
            raise MimiError("the hub let Bob ban Diana, or someone's state changed")

        d.clients("A2", [DEVICES["A2"]])
        self.check(self.call("A2", "join_external", ROOM), "Alice's tablet joins")
        d.settle(ROOM)
        self.say("A2 (Alice's tablet) joins by external commit")

        self.check(self.call("F", "leave", ROOM), "Evelyn leaves")
        d.settle(ROOM)
        self.say("F (Evelyn) leaves: the hub caches her Remove proposal")
        self.check(self.call("C", "commit_pending", ROOM), "commit Evelyn's leave")
        d.settle(ROOM)
        self.say("C's next commit covers it (and takes Evelyn off the participant list)")

        self.check(self.call("C", "remove_user", ROOM, USERS["bob"][0]), "remove Bob")
        d.settle(ROOM)
        self.say("C removes Bob")
        self.send("D", content.message(content.text_part("Bob is gone; hi from my laptop")), "a message")
        d.settle(ROOM)
        if self.burst:
            self.measure_fanout()

    def measure_fanout(self) -> None:
        """Alice's phone sends `burst` messages back to back (each one Ray call to its
        host, which submits to the hub); timed until every member has decrypted all."""
        before = self.delivered()
        started = time.monotonic()
        self.call("A", "send_many", ROOM, [content.encode(content.message(content.text_part(f"burst {i}"))) for i in range(self.burst)])
        self.deploy.settle(ROOM)
        seconds = time.monotonic() - started
        deliveries = self.delivered() - before
        self.fanout = {"messages": self.burst, "deliveries": deliveries, "seconds": round(seconds, 3),
                       "deliveries_per_second": round(deliveries / seconds, 1)}
        self.say(f"A sends {self.burst} messages in a burst: {deliveries} deliveries in {seconds:.2f} s "
                 f"({deliveries / seconds:,.0f} deliveries/s to the members' devices)")

    def delivered(self) -> int:
        return sum(self.ray.get(h.stats.remote())["delivered"] for h in self.deploy.providers.values())

    def views(self) -> dict[str, dict[str, Any]]:
        """Each client's view; the fanout burst's messages are counted, not listed."""
        views = {name: self.call(name, "view", ROOM) for name, uri in DEVICES.items() if uri in self.deploy.client_host}
        for view in views.values():
            messages = view.get("messages", [])
            view["burst_messages"] = sum(1 for m in messages if m["text"].startswith("burst "))
            view["messages"] = [m for m in messages if not m["text"].startswith("burst ")]
        return views

    def summary(self) -> dict[str, Any]:
        views = self.views()
        active = [v for v in views.values() if v.get("member")]
        servers = {}
        for provider, handle in self.deploy.providers.items():
            servers[provider] = {"databases": sorted({self.ray.get(handle.database.remote())})}
        hub_db = self.ray.get(self.deploy.hubs[ROOM].database.remote())
        servers[HUB]["databases"] = sorted(set(servers[HUB]["databases"]) | {hub_db})
        texts = {m["text"] for v in views.values() for m in v.get("messages", [])}
        leaks = {p: plaintext_in(s["databases"], texts) for p, s in servers.items()}
        return {
            "room": ROOM,
            "data_dir": self.deploy.data_dir,
            "clients": views,
            "servers": servers,
            "agree": len({(v["epoch"], v["epoch_authenticator"], tuple(v["participants"])) for v in active}) == 1,
            "plaintext_on_servers": {p: found for p, found in leaks.items() if found},
            "seconds": round(time.monotonic() - self.started, 2),
            "fanout": self.fanout,
            "transport": self.transport,
        }

    def close(self) -> None:
        self.deploy.shutdown()
        if self.federation is not None:
            self.federation.close()


def plaintext_in(databases: list[str], texts: set[str]) -> list[str]:
    """Which message texts appear anywhere in these SQLite files (WAL included)."""
    found: list[str] = []
    for db in databases:
        raw = b"".join(Path(p).read_bytes() for p in (db, db + "-wal") if Path(p).exists())
        found += [t for t in texts if t.encode() in raw]
    return sorted(set(found))
