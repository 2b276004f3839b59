"""ClientHost: one device or many in one actor, each a ClientSession with its own
SQLite file. Each actor is a process (docs/results.md, "Sizes"), so load runs host many
devices per actor with the same logic (`mimi.loadtest.fleet.FleetHost`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import msgpack

from mimi import _core, content, ids
from mimi.errors import MimiError
from mimi.logic import room_changes
from mimi.logic.client import (
    REJOIN_ATTEMPTS,
    ClientSession,
    EpochTooOld,
    Event,
    MessageShown,
    Outgoing,
    Refused,
    Removed,
    RoomView,
    commit_bundle,
    proposal_bundle,
)
from mimi.logic.follower import INBOX_PAGE, Pushed
from mimi.logic.group_info import group_info_request, open_group_info_response
from mimi.policy.presets import PRESETS
from mimi.room import RoomState
from mimi.storage import ClientStore, DataDir, HistoryEntry, SentMessage
from mimi.transport import names


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class Device:
    session: ClientSession
    store: ClientStore
    provider: str
    token: bytes  # the client's at its provider (`mimi.logic.access`)
    group_ids: dict[str, bytes]  # room -> MLS group ID
    saved_at: float = 0.0  # monotonic time of the last saved MLS state
    dirty: bool = False  # deliveries processed since
    unsaved: dict[str, list[HistoryEntry]] = field(default_factory=dict)  # room -> history shown since
    refused: int = 0  # events this device could not take (each a Refused to `on_events`)
    failures: int = 0  # of those, internal failures: a bug, logged


log = logging.getLogger(__name__)


# The provider's threads that forward its clients' calls to hubs, apart from those
# that take /notify and /keyMaterial from hubs: a hub that calls back while it
# answers a forwarded call always finds a free thread.
HUB_CALLS = "hub_calls"


class ClientHost:
    """The devices `tokens` names, each with its token at its provider (given by
    the deployment). A device talks only to its own provider, which forwards what
    is for a room's hub (`_hub`)."""

    def __init__(self, name: str, tokens: Mapping[str, bytes], data_dir: str) -> None:
        self.name = name
        self.data = DataDir(Path(data_dir))
        self.providers: dict[str, Any] = {}  # provider URI -> its actor, looked up once
        self.devices: dict[str, Device] = {c: self._open(c, token) for c, token in tokens.items()}
        for uri, device in self.devices.items():
            provider = self._provider(device)
            names.ray_get(provider.register.remote(uri, device.token, name))
            # After a restart: what the provider pushed while this host was down (in
            # rooms it may not have saved yet), then what was sent and not answered,
            # byte for byte (the hub answers a repeat as it did the first time).
            session = device.session
            for room in sorted(set(session.rooms) | set(names.ray_get(provider.rooms.remote(uri, device.token)))):
                view = session.rooms.get(room)
                self._repair(device, room, 0 if view is None else view.last_sequence)
                self._submit(device, room)
            self._save(device)

    def _open(self, uri: str, token: bytes) -> Device:
        # NORMAL, not FULL: a device's copy is rebuilt from its provider's inbox
        # (durable, FULL) after a crash or power loss, so the device need not
        # fsync every delivered batch (most of a loaded client host's time,
        # docs/results.md).
        store = ClientStore(self.data.client(uri), synchronous="NORMAL")
        try:
            return self._restore(uri, token, store)
        except BaseException:
            store.close()  # a refused file stays as it was: no connection left to checkpoint it later
            raise

    def _restore(self, uri: str, token: bytes, store: ClientStore) -> Device:
        provider = ids.provider_of(uri)
        saved = store.load_state()
        if saved is None:
            device = Device(ClientSession(_core.Client(uri)), store, provider, token, {})
            self._save(device)
            return device

        def restore(saved: bytes) -> Device:
            record = msgpack.unpackb(saved)
            session = ClientSession(_core.Client.import_state(record["mls"]))
            device = Device(session, store, provider, token, {r: bytes(g) for r, g in record["rooms"].items()})
            device.refused, device.failures = record.get("refused", 0), record.get("failures", 0)  # counted since schema 2
            joined = record.get("joined", {})  # saved since external joins skip what came before them
            session.diverged.update(record.get("diverged", {}))  # saved since devices rejoin diverged groups
            for room, group_id in device.group_ids.items():
                group = session.client.load_group(group_id)
                session.rooms[room] = RoomView(group, content.RoomHistory(room), record["last"][room], joined.get(room, 0))
            return device

        device = store.decoded("client_state", 1, restore, saved)
        for sent in store.sent():
            device.session.restore_sent(Outgoing(sent.room_id, sent.message_id, sent.content, sent.ciphertext, sent.attempts), sent.answered)
        for room, view in device.session.rooms.items():
            for entry in store.history(room):
                if entry.sequence > view.last_sequence:  # later ones come again from the provider
                    break
                receive = partial(view.history.receive_bytes, sender_uri=entry.sender, accepted_at=entry.accepted_timestamp)
                store.decoded("client_history", (room, entry.sequence), receive, entry.content)
        return device

    def _save(self, device: Device) -> None:
        """The device's MLS state, what it sent and not yet saw fanned back, and the
        history shown since the last save, in one transaction: the saved history
        always reaches the saved `last` sequences, and a saved ratchet is never
        behind a ciphertext that left."""
        session = device.session
        device.group_ids = {room: view.group.group_id for room, view in session.rooms.items()}
        record = {
            "mls": session.client.export_state(),
            "rooms": device.group_ids,
            "last": {room: view.last_sequence for room, view in session.rooms.items()},
            "joined": {room: view.joined_at for room, view in session.rooms.items() if view.joined_at},
            "refused": device.refused,
            "failures": device.failures,
            "diverged": session.diverged,  # rejoined with the next delivery, also after a restart
        }
        kept, answered, gone = session.sending_changes()
        changed = [SentMessage(o.message_id, o.room, o.content, o.ciphertext, o.attempts, a) for o, a in kept]
        with device.store.transaction():
            for room, entries in device.unsaved.items():
                if entries:
                    device.store.add_messages(room, entries)
            device.store.save_sent(changed, answered, gone)
            device.store.save_state(bytes(msgpack.packb(record)))
        session.sending_saved()
        device.unsaved = {}
        device.saved_at, device.dirty = time.monotonic(), False

    def _device(self, client: str) -> Device:
        device = self.devices.get(client)
        if device is None:
            raise MimiError(f"{client} is not hosted by {self.name}")
        return device

    def ping(self) -> str:
        return self.name

    def _provider(self, device: Device) -> Any:
        handle = self.providers.get(device.provider)
        if handle is None:
            handle = self.providers[device.provider] = names.handle(names.provider(device.provider))
        return handle

    def _hub(self, device: Device, endpoint: str, room: str, *args: Any) -> Any:
        """A call to the room's hub (a `Transport` method), through the device's
        provider, which forwards it as itself; its answer."""
        return names.ray_get(self._hub_call(device, endpoint, room, *args))

    def _hub_call(self, device: Device, endpoint: str, room: str, *args: Any) -> Any:
        """`_hub`'s call, left in flight (load generators keep a window of them)."""
        return hub_call(self._provider(device), device.session.uri, device.token, endpoint, room, *args)

    # -- setup ------------------------------------------------------------------------

    def publish_key_packages(self, client: str, count: int) -> int:
        """Publishes `count` single-use KeyPackages and a fresh last-resort one, which
        the provider hands out once those are gone (docs/interop.md, "KeyMaterial")."""
        device = self._device(client)
        kps = device.session.client.key_packages(count)
        last_resort = device.session.client.last_resort_key_package()
        self._save(device)
        remaining: int = names.ray_get(self._provider(device).publish_key_packages.remote(client, device.token, kps, last_resort))
        return remaining

    def create_room(self, client: str, room: str, preset: str) -> None:
        """Creates `room` on its hub (the provider its URI names) with a policy preset."""
        device = self._device(client)
        session = device.session
        hub_key, hub = self._hub(device, "reserve", room)
        state = PRESETS[preset].new_room(session.user, room, room_name=room.rsplit("/", 1)[-1], hub=hub, members=[client])
        group = session.create_room(room, room.encode(), hub_key, hub, state)
        self._hub(device, "create_room", room, group.export_group_info(), group.export_ratchet_tree())
        names.ray_get(self._provider(device).subscribe.remote(room, client, device.token))
        self._save(device)

    # -- room changes ---------------------------------------------------------------------

    def _update(self, device: Device, room: str, body: bytes) -> dict[str, Any]:
        if room in device.session.pending and room not in device.session.joining:
            # The pending commit is durable before it leaves: a host that dies after the
            # hub accepted it merges it when it comes back at its sequence.
            self._save(device)
        raw = self._hub(device, "update", room, body)
        response = _core.UpdateResponse.decode(raw)
        if room in device.session.pending:
            if response.response_code == "success":
                device.session.update_accepted(room, response.accepted_timestamp)
            else:
                device.session.update_refused(room)
        self._save(device)
        return {"code": response.response_code, "reason": response.error_description, "epoch": response.current_epoch}

    def add_users(self, client: str, room: str, users: list[str]) -> dict[str, Any]:
        """Adds users as ordinary participants with every client of theirs, their
        KeyPackages fetched through the hub (/keyMaterial)."""
        device = self._device(client)
        kps: list[bytes] = []
        for user in users:
            answer = self._hub(device, "key_material", room, room_changes.key_material_request(device.session, user, room))
            response = _core.KeyMaterialResponse.decode(answer.response)
            if not any(c.key_package is not None for c in response.clients):
                # by its user code, or a partialSuccess with none served (docs/interop.md)
                code = "noCompatibleMaterial" if response.user_status == "partialSuccess" else response.user_status
                return {"code": code, "reason": f"no key material for {user}: {answer.reason}", "epoch": None}
            kps += room_changes.key_packages_to_add(device.session, room, response)
        return self._commit(device, room, room_changes.add_users(device.session, room, users, kps))

    def change_component(self, client: str, room: str, component_id: int, data: bytes) -> dict[str, Any]:
        """Commits a new value of one room component (the room metadata or a policy
        component such as roles_list), as an AppDataUpdate."""
        device = self._device(client)
        return self._commit(device, room, room_changes.change_component(device.session, room, component_id, data))

    def set_role(self, client: str, room: str, user: str, role: int) -> dict[str, Any]:
        device = self._device(client)
        return self._commit(device, room, room_changes.set_role(device.session, room, user, role))

    def remove_user(self, client: str, room: str, user: str) -> dict[str, Any]:
        """Removes a participant and every client of theirs still in the group."""
        device = self._device(client)
        return self._commit(device, room, room_changes.remove_user(device.session, room, user))

    def commit_pending(self, client: str, room: str) -> dict[str, Any]:
        """Commits the pending proposals; a user who left also leaves the participant list."""
        device = self._device(client)
        return self._commit(device, room, room_changes.commit_pending(device.session, room))

    def _commit(self, device: Device, room: str, out: _core.CommitOutput) -> dict[str, Any]:
        return self._update(device, room, commit_bundle(out))

    def leave(self, client: str, room: str) -> dict[str, Any]:
        device = self._device(client)
        return self._update(device, room, proposal_bundle(device.session.propose_leave(room)))

    def join_external(self, client: str, room: str) -> dict[str, Any]:
        device = self._device(client)
        out = self._external_commit(device, room)
        # Subscribed before the commit leaves, so that nothing the hub sequences after
        # it misses this device; what comes before it, the device skips (`joined_at`).
        provider = self._provider(device)
        since = names.ray_get(provider.subscribe.remote(room, client, device.token))
        result = self._update(device, room, commit_bundle(out))
        if result["code"] != "success":
            names.ray_get(provider.unsubscribe.remote(room, client, device.token, since + 1))
        return result

    def _external_commit(self, device: Device, room: str) -> _core.CommitOutput:
        """An external commit into `room` from the GroupInfo the hub gives this device."""
        hub_key, _ = self._hub(device, "hub_sender", room)
        hpke = _core.HpkeKeyPair.generate()
        request = group_info_request(device.session.client, hpke.public)
        reply = self._hub(device, "group_info", room, request)
        claimed = open_group_info_response(reply, room, hpke.private, hub_key)
        return device.session.join_external(room, claimed.group_info, claimed.ratchet_tree)

    def _rejoin(self, device: Device) -> None:
        """Rejoins the rooms whose group diverged from the hub's (subscribed already);
        a commit that came first (wrongEpoch) is tried again at once, any other
        refusal with the next delivery."""
        for room in list(device.session.diverged):
            for _ in range(REJOIN_ATTEMPTS):
                if self._update(device, room, commit_bundle(self._external_commit(device, room)))["code"] != "wrongEpoch":
                    break

    # -- messages ----------------------------------------------------------------------------

    def send(self, client: str, room: str, message: bytes) -> dict[str, Any]:
        """Sends MIMI content (CBOR bytes); returns its message ID and the hub's answer."""
        device = self._device(client)
        _, message_id = device.session.send(room, content.decode(message), message)
        self._save(device)  # the ratchet that made the ciphertext, and the message, before it leaves
        return {"message_id": message_id, "status": self._submit(device, room)[message_id]}

    def send_many(self, client: str, room: str, messages: list[bytes]) -> list[str]:
        """Sends many MIMI contents in order, in one call to the hub (its provider
        coalescing `/submitMessage` bodies); returns the hub's answers."""
        device = self._device(client)
        sent = [device.session.send(room, content.decode(m), m)[1] for m in messages]
        self._save(device)  # one save for the batch, before any of it leaves
        answers = self._submit(device, room)
        return [answers[m] for m in sent]

    # A device behind the hub's epoch waits for the commit it lacks this long at most,
    # fetching from its provider's inbox with a doubling pause (the hub fans out after it answers).
    CATCH_UP_WAITS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)

    def _submit(self, device: Device, room: str) -> dict[bytes, str]:
        """Submits the room's saved, unanswered messages in one call (the oldest first:
        one whose call failed goes with the next); a message refused as of a past
        epoch is encrypted again once the device has caught up with the room, saved,
        and submitted again (RESEND_ATTEMPTS at most). Returns the last answer to each.
        The answers are saved with the device's next save: until then a restart
        submits the same bytes again and gets the same answers."""
        session = device.session
        statuses: dict[bytes, str] = {}
        pending = session.unanswered(room)
        while pending:
            replies = self._hub(device, "submit_messages", room, [session.body(m) for m in pending])
            stale: list[EpochTooOld] = []
            for message_id, reply in zip(pending, replies):
                statuses[message_id] = _core.SubmitMessageResponse.decode(reply).status
                outcome = session.submit_answered(message_id, reply)
                if isinstance(outcome, EpochTooOld):
                    stale.append(outcome)
            if not stale:
                break
            self._catch_up(device, room, max(o.current_epoch for o in stale))
            pending = [o.message_id for o in stale if session.resend(o) is None]
            self._save(device)
        device.dirty = True
        return statuses

    def _catch_up(self, device: Device, room: str, epoch: int) -> None:
        """Processes what the provider has for the device until its group of `room`
        is at the hub's `epoch` (bounded: CATCH_UP_WAITS)."""
        for wait in self.CATCH_UP_WAITS:
            self._repair(device, room, device.session.rooms[room].last_sequence)
            if not device.session.behind(room, epoch):
                return
            time.sleep(wait)

    # While deliveries stream in, a device's MLS state and new history are saved
    # together at most this often: a transaction per device per delivered batch
    # dominated a busy host (docs/results.md). What a crash loses since is delivered
    # again from the provider's inbox, which is durable (`missed`), and decrypted again
    # by the MLS state saved with the history.
    SAVE_INTERVAL = 0.25

    def deliver(self, batch: Sequence[Pushed]) -> int:
        """Events from the provider, in order: (client, room, sequence, previous,
        FanoutMessage). A device that lost a push (`previous` not processed) first
        takes what it missed from the provider's inbox."""
        touched: dict[str, Device] = {}
        for client, room, sequence, previous, fanout in batch:
            device = self.devices.get(client)
            if device is None:
                continue
            touched[client] = device
            gap = device.session.gap(room, previous)
            if gap is not None:
                self._repair(device, room, gap.after)
            self._process(device, client, room, sequence, fanout)
        for device in touched.values():
            self._rejoin(device)
            if time.monotonic() - device.saved_at >= self.SAVE_INTERVAL:
                self._save(device)
            else:
                device.dirty = True
        return len(batch)

    def _repair(self, device: Device, room: str, after: int) -> None:
        """The device's events of `room` after sequence `after`, from its provider's inbox."""
        client = device.session.uri
        provider = self._provider(device)
        while True:  # a page (INBOX_PAGE events) a call
            page = names.ray_get(provider.missed.remote(client, device.token, room, after))
            for _, _, sequence, _, fanout in page:
                self._process(device, client, room, sequence, fanout)
            if len(page) < INBOX_PAGE:
                return
            after = page[-1][2]

    def _process(self, device: Device, client: str, room: str, sequence: int, fanout: bytes) -> None:
        """One event for one device. It fails alone: a Refused, counted, and the
        batch goes on; an exception that is no MimiError is a bug, logged too."""
        try:
            events = device.session.deliver(room, sequence, fanout)
        except Exception as err:  # one device's bug must not stop the others' events
            log.exception("%s: event %d of %s failed", client, sequence, room)
            device.failures += 1
            events = [Refused(room, sequence, f"internal failure: {err!r}")]
        entries = device.unsaved.setdefault(room, [])
        for event in events:
            if isinstance(event, MessageShown):
                entries.append(HistoryEntry(sequence, event.timestamp, event.sender, event.content))
            elif isinstance(event, Refused):
                device.refused += 1
            elif isinstance(event, Removed):
                self._provider(device).unsubscribe.remote(room, client, device.token, sequence)
        self.on_events(client, room, sequence, events)

    def on_events(self, client: str, room: str, sequence: int, events: list[Event]) -> None:
        """What one delivery did for `client`; a hook for subclasses (load
        generators time decryption here)."""

    def flush(self) -> None:
        """Saves every device's MLS state and history that deliveries changed."""
        for device in self.devices.values():
            if device.dirty:
                self._save(device)

    def progress(self, room: str) -> dict[str, int]:
        """Per hosted client, the last room sequence it processed (and saved)."""
        self.flush()
        return {c: d.session.rooms[room].last_sequence for c, d in self.devices.items() if room in d.session.rooms}

    # -- what users see ----------------------------------------------------------------------

    def view(self, client: str, room: str) -> dict[str, Any]:
        device = self._device(client)
        session = device.session
        if room not in session.rooms:
            return {"client": client, "member": False}
        group = session.rooms[room].group
        state = RoomState.from_app_data(group.app_data())
        return {
            "client": client,
            "member": group.is_active,
            "epoch": group.epoch,
            "epoch_authenticator": group.epoch_authenticator.hex(),
            "participants": sorted(p.user for p in state.participants.participants),
            "last_sequence": session.rooms[room].last_sequence,
            "refused": device.refused,
            "failures": device.failures,
            "messages": [
                {"id": e.message_id.hex(), "sender": e.sender_uri, "text": text_of(e.content), "reactions": len(e.reactions)}
                for e in session.shown(room, now_ms())
            ],
            "database": str(device.store.path),
        }


def hub_call(provider: Any, client: str, token: bytes, endpoint: str, room: str, *args: Any) -> Any:
    """The call by which `client` (with its `token`) asks its `provider` (an actor
    handle) to forward `endpoint` to the room's hub (`ProviderServer.hub_call`); its reply."""
    return provider.hub_call.options(concurrency_group=HUB_CALLS).remote(client, token, endpoint, room, *args)


def text_of(message: content.MimiContent) -> str:
    part = message.nested_part
    if isinstance(part, content.SinglePart):
        return part.content.decode("utf-8", "replace")
    return f"<{type(part).__name__}>"
