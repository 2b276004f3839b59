"""The seed's Figure 1 room, in one process: real MLS, room policy, MIMI content.

x.example and z.example are followers, y.example hosts the room (the hub). The
hub validates every commit with its MLS view and the room policy before anyone
merges it. Transport and actors are not involved yet: the runtime replaces this
in-memory exchange with Ray actors speaking the protocol's bodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mimi import _core, content, ids
from mimi.logic import app_data_resolver, proposed_change
from mimi.logic.room import Resolver
from mimi.policy import ComponentId, authorize_submit, authorize_update
from mimi.policy.presets import PRESETS
from mimi.room import Actor, ParticipantListUpdate, RoomState, UserindexRolePair, UserRolePair
from mimi.errors import MimiError

HUB = "mimi://y.example"
ROOM = "mimi://y.example/r/clubhouse"
ORDINARY_USER = 2


@dataclass
class Device:
    name: str
    client: _core.Client
    group: _core.Group | None = None
    history: content.RoomHistory = field(default_factory=lambda: content.RoomHistory(ROOM))


class Demo:
    def __init__(self, preset: str = "cooperative") -> None:
        self.log: list[str] = []
        self.now = 1_700_000_000_000
        self.hub_key = _core.SignatureKeyPair.generate()
        self.devices = {
            name: Device(name, _core.Client(uri))
            for name, uri in {
                "A": "mimi://x.example/d/alice/phone",
                "B": "mimi://x.example/d/bob/phone",
                "C": "mimi://y.example/d/charlie/phone",
                "D": "mimi://y.example/d/charlie/laptop",
                "E": "mimi://z.example/d/diana/phone",
                "F": "mimi://z.example/d/evelyn/phone",
            }.items()
        }
        creator = self.devices["C"]
        self.state = PRESETS[preset].new_room(
            ids.user_of(creator.client.client_uri), ROOM, room_name="Clubhouse", hub=HUB,
            members=[creator.client.client_uri],
        )
        creator.group = creator.client.create_group(b"clubhouse", self.hub_key.public, HUB, self.state.to_app_data())
        self.hub = _core.HubView.from_group_info(creator.group.export_group_info(), creator.group.export_ratchet_tree())
        self.say(f"Charlie creates {ROOM} on the hub y.example ({preset} preset)")

    def say(self, line: str) -> None:
        self.log.append(line)

    def members(self) -> list[Device]:
        return [d for d in self.devices.values() if d.group is not None and d.group.is_active]

    def resolver(self) -> Resolver:
        return app_data_resolver(self.state.members)

    # -- room changes -------------------------------------------------------

    def submit_commit(self, committer: Device, out: _core.CommitOutput) -> bool:
        """The hub validates MLS and policy; on success everyone merges (fanout)."""
        assert committer.group is not None
        report = self.hub.process(out.commit, out.group_info, app_data_resolver(self.state.members))
        change = proposed_change(report)
        decision = authorize_update(self.state, Actor(committer.client.client_uri), change)
        if not decision.allowed:
            self.hub.discard()
            committer.group.clear_pending_commit()
            self.say(f"  hub refuses {committer.name}'s commit: {decision.code.name}: {decision.reason}")
            return False
        self.hub.merge()
        self.state = self.state.apply(change)
        for device in self.members():
            if device is committer:
                device.group.merge_pending_commit()  # type: ignore[union-attr]
            else:
                device.group.process(out.commit, app_data_resolver(self.state.members))  # type: ignore[union-attr]
                device.group.merge()  # type: ignore[union-attr]
        return True

    def participant_update(self, update: ParticipantListUpdate) -> tuple[int, bytes]:
        return (ComponentId.participant_list, update.encode())

    def add(self, committer: str, names: list[str], new_users: list[str]) -> None:
        c = self.devices[committer]
        assert c.group is not None
        kps = [self.devices[n].client.key_packages(1)[0] for n in names]  # fetched through the hub
        update = ParticipantListUpdate(added_participants=tuple(UserRolePair(u, ORDINARY_USER) for u in new_users))
        out = c.group.commit(adds=kps, app_data=[self.participant_update(update)], resolve=self.resolver())
        if self.submit_commit(c, out):
            assert out.welcome is not None
            for n in names:
                self.devices[n].group = self.devices[n].client.join_welcome(out.welcome, self.hub.export_ratchet_tree())
            self.say(f"{c.name} adds {', '.join(names)}: epoch {self.hub.epoch}")

    def index_of(self, user: str) -> int:
        return [p.user for p in self.state.participants.participants].index(user)

    # -- messages -----------------------------------------------------------

    def send(self, sender: str, message: content.MimiContent, label: str) -> bytes:
        device = self.devices[sender]
        assert device.group is not None
        decision = authorize_submit(self.state, device.client.client_uri)
        if not decision.allowed:
            raise MimiError(decision.reason)
        data = content.encode(message)
        message_id = content.message_id(data, ids.user_of(device.client.client_uri), ROOM)
        ciphertext = device.group.encrypt(data)
        self.now += 1000
        device.history.receive(message, message_id, ids.user_of(device.client.client_uri), self.now)
        for other in self.members():
            if other is device:
                continue
            got = other.group.process(ciphertext)  # type: ignore[union-attr]
            assert got.plaintext is not None and got.sender_identity is not None
            other.history.receive_bytes(got.plaintext, sender_uri=ids.user_of(got.sender_identity), accepted_at=self.now)
        self.say(f"{sender} sends {label}")
        return message_id

    # -- the script ---------------------------------------------------------

    def run(self) -> None:
        self.add("C", ["A", "B", "D", "E", "F"], [
            "mimi://x.example/u/alice", "mimi://x.example/u/bob", "mimi://z.example/u/diana", "mimi://z.example/u/evelyn",
        ])
        hello = content.message(content.text_part("Hi everyone!"), sender_uri="mimi://x.example/u/alice", room_uri=ROOM)
        hello_id = self.send("A", hello, "a greeting")
        reply = content.reply(hello_id, content.text_part("Hello Alice!"))
        reply_id = self.send("E", reply, "a reply")
        self.send("B", content.reaction(hello_id, "\N{HEAVY BLACK HEART}"), "a reaction")
        self.send("E", content.edit(reply, reply_id, content.text_part("Hello Alice, welcome!")), "an edit")
        oops = content.message(content.text_part("wrong room, sorry"))
        self.send("C", content.delete(oops, self.send("C", oops, "a message")), "a delete")

        # Bob (ordinary user) tries to ban Diana: his role lacks canBan.
        bob = self.devices["B"]
        ban = ParticipantListUpdate(changed_role_participants=(UserindexRolePair(self.index_of("mimi://z.example/u/diana"), 1),))
        before = {d.name: d.group.epoch for d in self.members()}  # type: ignore[union-attr]
        out = bob.group.commit(app_data=[self.participant_update(ban)], resolve=self.resolver())  # type: ignore[union-attr]
        self.say("B tries to ban Diana")
        assert not self.submit_commit(bob, out)
        assert before == {d.name: d.group.epoch for d in self.members()}  # type: ignore[union-attr]

        # Alice adds a second device by external join.
        tablet = Device("A2", _core.Client("mimi://x.example/d/alice/tablet"))
        self.devices["A2"] = tablet
        tablet.group, out = tablet.client.join_external(self.hub.group_info(), self.hub.export_ratchet_tree())
        if self.submit_commit(tablet, out):
            self.say(f"A2 (Alice's tablet) joins by external commit: epoch {self.hub.epoch}")

        # Evelyn leaves: her Remove proposal is cached and covered by Charlie's next commit.
        evelyn = self.devices["F"]
        leave = evelyn.group.propose_leave()  # type: ignore[union-attr]
        self.hub.process(leave)
        self.hub.merge()
        for d in self.members():
            if d is not evelyn:
                d.group.process(leave)  # type: ignore[union-attr]
                d.group.merge()  # type: ignore[union-attr]
        self.say("F (Evelyn) leaves: her Remove proposal is cached by the hub")
        charlie = self.devices["C"]
        remove_evelyn = ParticipantListUpdate(removed_indices=(self.index_of("mimi://z.example/u/evelyn"),))
        out = charlie.group.commit(app_data=[self.participant_update(remove_evelyn)], resolve=self.resolver())  # type: ignore[union-attr]
        assert self.submit_commit(charlie, out)
        self.say(f"C commits Evelyn's leave: epoch {self.hub.epoch}")

        # Charlie removes Bob.
        bob_leaf = bob.group.own_leaf_index  # type: ignore[union-attr]
        remove_bob = ParticipantListUpdate(removed_indices=(self.index_of("mimi://x.example/u/bob"),))
        out = charlie.group.commit(removes=[bob_leaf], app_data=[self.participant_update(remove_bob)], resolve=self.resolver())  # type: ignore[union-attr]
        assert self.submit_commit(charlie, out)
        self.say(f"C removes Bob: epoch {self.hub.epoch}")
        self.send("D", content.message(content.text_part("Bob is gone; hi from my laptop")), "a message")

    def summary(self) -> dict[str, object]:
        clients = {}
        for d in self.devices.values():
            if d.group is None:
                continue
            clients[d.name] = {
                "client": d.client.client_uri,
                "active": d.group.is_active,
                "epoch": d.group.epoch,
                "epoch_authenticator": d.group.epoch_authenticator.hex(),
                "participants": sorted(p.user for p in RoomState.from_app_data(d.group.app_data()).participants.participants),
                "messages": [
                    {"id": e.message_id.hex(), "sender": e.sender_uri, "text": text_of(e.content), "reactions": len(e.reactions)}
                    for e in d.history.messages(self.now)
                ],
            }
        active = [c for c in clients.values() if c["active"]]
        return {
            "room": ROOM,
            "hub": {"epoch": self.hub.epoch, "tree_hash": self.hub.tree_hash.hex()},
            "clients": clients,
            "agree": len({(c["epoch"], c["epoch_authenticator"], tuple(c["participants"])) for c in active}) == 1,  # type: ignore[arg-type]
        }


def text_of(message: content.MimiContent) -> str:
    part = message.nested_part
    if isinstance(part, content.SinglePart):
        return part.content.decode("utf-8", "replace")
    return f"<{type(part).__name__}>"
