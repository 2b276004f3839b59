"""RoomHub: the hub logic for a shard of one provider's rooms. Validates, orders,
logs durably (one SQLite transaction per accepted call), fans out in batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack

from mimi.actors import names
from mimi.errors import MimiError
from mimi.logic.fanout import FanoutBatcher
from mimi.logic.follower import Notify
from mimi.logic.hub import Fanout, HubRoom
from mimi.storage import DataDir, HubStore, LogEvent


class RoomHub:
    def __init__(self, hub: str, data_dir: str) -> None:
        self.hub = hub
        self.path = DataDir(Path(data_dir)).server(hub)
        self.store = HubStore(self.path)
        self.rooms: dict[str, HubRoom] = {}
        self.batcher = FanoutBatcher()
        self.accepted = 0
        # /notify calls not yet answered: (destination, batch, reply). A follower
        # that died before answering gets the batch again (it processes it once).
        self.in_flight: list[tuple[str, Notify, Any]] = []
        for room in self.store.rooms():
            self._reload(room)

    def _reload(self, room: str) -> None:
        saved = self.store.load_state(room)
        assert saved is not None
        hub_room = HubRoom.restore(saved)
        hub_room.sequence = max(hub_room.sequence, self.store.last_sequence(room))
        # Where each destination's chain of batches stands (`previous` of its next batch).
        for event in self.store.events_since(room, 0, 1_000_000):
            record = msgpack.unpackb(event.body)
            for destination in record["d"]:
                self.batcher.resume(destination, room, event.sequence)
            hub_room.remember_logged(bytes(record["m"]))
        self.rooms[room] = hub_room

    def ping(self) -> str:
        return self.hub

    def database(self) -> str:
        return str(self.path)

    # -- endpoints (bodies of draft-ietf-mimi-protocol) ---------------------------------

    def create_room(self, room: str, group_info: bytes, ratchet_tree: bytes) -> None:
        if room in self.rooms:
            raise MimiError(f"{room} already exists")
        hub_room = HubRoom.create(room, self.hub, group_info, ratchet_tree)
        self.store.save_state(room, hub_room.export())
        self.rooms[room] = hub_room

    def group_info(self, room: str) -> tuple[bytes, bytes]:
        view = self._room(room).view
        return view.group_info(), view.export_ratchet_tree()

    def key_material(self, room: str, target_client: str) -> bytes | None:
        """Claims a KeyPackage of `target_client` from its provider; remembers where
        the KeyPackage came from so its Welcome goes there."""
        hub_room = self._room(room)
        provider = "mimi://" + target_client.split("/")[2]
        claimed = names.handle(names.provider(provider)).claim_key_package.remote(target_client)
        import ray

        result = ray.get(claimed)
        if result is None:
            return None
        ref, key_package = result
        hub_room.record_key_packages(provider, [ref])
        self.store.save_state(room, hub_room.export())
        return bytes(key_package)

    def update(self, room: str, provider: str, body: bytes, now: int) -> bytes:
        hub_room = self._room(room)
        response, events = hub_room.update(provider, body, now)
        if events:
            with self.store.transaction():
                self.store.save_state(room, hub_room.export())
                self._log(room, events)
            self._fan_out(events)
        return response

    def submit(self, room: str, provider: str, body: bytes, now: int) -> bytes:
        hub_room = self._room(room)
        response, events = hub_room.submit(provider, body, now)
        if events:
            self._log(room, events)
            self._fan_out(events)
        return response

    def events(self, room: str, after: int, limit: int) -> list[tuple[int, list[str], bytes]]:
        """The room's durable log after `after`: (sequence, destinations, FanoutMessage)."""
        out = []
        for event in self.store.events_since(room, after, limit):
            record = msgpack.unpackb(event.body)
            out.append((event.sequence, list(record["d"]), bytes(record["m"])))
        return out

    def progress(self, room: str) -> dict[str, int]:
        """Per destination provider, the last sequence fanned out to it."""
        return self.batcher.last_sent(room)

    def stats(self) -> dict[str, Any]:
        return {"hub": self.hub, "accepted": self.accepted, "database": str(self.path)}

    # -- helpers -----------------------------------------------------------------------------

    def _room(self, room: str) -> HubRoom:
        hub_room = self.rooms.get(room)
        if hub_room is None:
            raise MimiError(f"no such room on {self.hub}: {room}")
        return hub_room

    def _log(self, room: str, events: list[Fanout]) -> None:
        self.store.append_events(
            room,
            [
                LogEvent(e.sequence, e.timestamp, bytes(msgpack.packb({"d": sorted(e.destinations), "m": e.message})))
                for e in events
            ],
        )
        self.accepted += len(events)

    def _fan_out(self, events: list[Fanout]) -> None:
        self.batcher.add(events)
        retry = self._answered()
        for destination in self.batcher.destinations():
            retry += [(destination, n) for n in self.batcher.take(destination)]
        for destination, notify in retry:
            self._send(destination, notify)

    def _send(self, destination: str, notify: Notify) -> None:
        handle = names.handle(names.provider(destination))
        reply = handle.notify.remote(notify.room, notify.previous, list(notify.sequences), notify.body)
        self.in_flight.append((destination, notify, reply))

    def _answered(self) -> list[tuple[str, Notify]]:
        """Collects the answered /notify calls; returns those to send again."""
        import ray
        from ray.exceptions import ActorUnavailableError, RayActorError

        if not self.in_flight:
            return []
        ready, _ = ray.wait([r for _, _, r in self.in_flight], num_returns=len(self.in_flight), timeout=0)
        done = set(ready)
        retry, waiting = [], []
        for destination, notify, reply in self.in_flight:
            if reply not in done:
                waiting.append((destination, notify, reply))
                continue
            try:
                ray.get(reply)
            except (RayActorError, ActorUnavailableError):
                retry.append((destination, notify))
        self.in_flight = waiting
        return retry

    def flush(self) -> int:
        """Sends again what a restarted follower missed; returns the calls still in flight."""
        for destination, notify in self._answered():
            self._send(destination, notify)
        return len(self.in_flight)
