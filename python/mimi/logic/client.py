"""One client device (sans-IO): MLS groups per room, the room's policy view, and
the message history its user sees.

Inputs are the events its provider delivers (FanoutMessage bytes with the room
sequence) and the hub's responses; outputs are the bodies to send through its
provider (`/update` HandshakeBundles, `/submitMessage` requests) and events
for the application. Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

from mimi import _core, content, ids
from mimi.content import MimiContent
from mimi.errors import MimiError, RemoteProtocolError
from mimi.logic.framing import bare_group_info, bare_welcome
from mimi.logic.room import app_data_resolver, proposed_change
from mimi.policy import authorize_update
from mimi.room import Actor, RoomState


@dataclass(frozen=True, slots=True)
class Joined:
    room: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Removed:
    """This client was removed from the room (it stops receiving its events)."""

    room: str


@dataclass(frozen=True, slots=True)
class EpochChanged:
    room: str
    epoch: int
    committer: str | None


@dataclass(frozen=True, slots=True)
class MessageShown:
    """An application message decrypted and folded into the room's history."""

    room: str
    sequence: int  # the hub's room sequence (0 while the hub has not fanned it back)
    message_id: bytes
    sender: str  # user URI
    change: str  # what it did to the history: added, edited, deleted, reacted, ...
    content: bytes  # the MIMI content (CBOR) as sent
    timestamp: int  # the hub's accepted_timestamp


@dataclass(frozen=True, slots=True)
class Refused:
    """An event this client could not take (a hub/client policy mismatch, undecryptable)."""

    room: str
    sequence: int
    reason: str


Event = Joined | Removed | EpochChanged | MessageShown | Refused


@dataclass(frozen=True, slots=True)
class Gap:
    """Events of `room` were delivered to this device after room sequence `after`,
    up to `upto`, and never reached it (pushes lost around a restart): fetch them
    from the provider's inbox and deliver them first."""

    room: str
    after: int
    upto: int


@dataclass(frozen=True, slots=True)
class EpochTooOld:
    """The hub refused a message of this device as encrypted in a past epoch; the
    hub is at `current_epoch`. Once this device is there too, `resend` encrypts the
    same content again."""

    room: str
    message_id: bytes
    current_epoch: int


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message this device encrypted: in the outbox until the hub answers, and in
    `sent` until it comes back in the room's order. Both are saved with the MLS
    state that made its ciphertext, before the ciphertext leaves the device
    (docs/guarantees.md)."""

    room: str
    message_id: bytes
    content: bytes  # the MIMI content (CBOR) as sent
    ciphertext: bytes  # the PrivateMessage: resubmitted byte for byte until answered
    attempts: int = 1  # encryptions so far: an epochTooOld answer encrypts it again, RESEND_ATTEMPTS at most
    decoded: MimiContent | None = field(default=None, compare=False)  # `content`, decoded once (not saved)


@dataclass
class RoomView:
    group: _core.Group
    history: content.RoomHistory
    last_sequence: int = 0  # the last room sequence this device processed
    # The hub's timestamp of the commit that made this device a member (0: it created
    # the group). What the hub sequenced before it is not for this device: an external
    # joiner is subscribed before its commit leaves, and skips it.
    joined_at: int = 0


# How often one message is encrypted at most. Each epochTooOld answer to it means
# another commit was sequenced while it was on its way (a device that cannot catch
# up stops at once, `resend`): this many commits in a row (docs/guarantees.md).
RESEND_ATTEMPTS = 8

# How often a diverged device tries to rejoin in a row: each refusal means another
# commit was sequenced between its GroupInfo request and its commit.
REJOIN_ATTEMPTS = 8


@dataclass
class ClientSession:
    """One device. `client` is its MLS client (credential naming its client URI)."""

    client: _core.Client
    rooms: dict[str, RoomView] = field(default_factory=dict)
    pending: dict[str, _core.CommitOutput] = field(default_factory=dict)  # room -> commit awaiting the hub
    # Room joined by an external commit awaiting the hub -> the view it replaces (removed), if any.
    joining: dict[str, RoomView | None] = field(default_factory=dict)
    outbox: dict[bytes, Outgoing] = field(default_factory=dict)  # message ID -> sent, unanswered (in send order)
    sent: dict[bytes, Outgoing] = field(default_factory=dict)  # ciphertext -> sent, until fanned back
    pending_leaves: dict[str, set[str]] = field(default_factory=dict)  # room -> clients whose Remove is cached
    unjoined: dict[str, int] = field(default_factory=dict)  # room without a group here -> last sequence delivered
    # Room -> sequence of the first handshake the hub sequenced that this device could
    # not process: its group left the room's, and it rejoins (`join_external`).
    diverged: dict[str, int] = field(default_factory=dict)
    # What changed in `sent` since the device last saved it (`sending_changes`).
    unsaved_sent: dict[bytes, Outgoing | None] = field(default_factory=dict)  # message ID -> as now (None: gone)
    unsaved_answers: set[bytes] = field(default_factory=set)  # message IDs answered

    @property
    def uri(self) -> str:
        return self.client.client_uri

    @cached_property
    def user(self) -> str:
        """The device's user URI (parsed once: the message path asks for it each time)."""
        return ids.user_of(self.uri)

    def state_of(self, room: str) -> RoomState:
        view = self.rooms[room]
        return RoomState.from_app_data(view.group.app_data(), [m.identity for m in view.group.members()])

    # -- creating and changing rooms ------------------------------------------

    def create_room(self, room: str, group_id: bytes, hub_key: bytes, hub: str, state: RoomState) -> _core.Group:
        group = self.client.create_group(group_id, hub_key, hub, state.to_app_data())
        self.rooms[room] = RoomView(group, content.RoomHistory(room))
        return group

    def commit(
        self,
        room: str,
        adds: Sequence[bytes] = (),
        removes: Sequence[int] = (),
        app_data: Sequence[tuple[int, bytes | None]] = (),
        force_path: bool = False,
    ) -> _core.CommitOutput:
        """A commit, pending until the hub answers (`update_accepted` / `update_refused`)."""
        view = self.rooms[room]
        resolve = app_data_resolver([m.identity for m in view.group.members()])
        out = view.group.commit(list(adds), list(removes), list(app_data), force_path, resolve)
        self.pending[room] = out
        return out

    def join_external(self, room: str, group_info: bytes, ratchet_tree: bytes) -> _core.CommitOutput:
        """An external commit joining `room` (also after this device was removed
        from it), pending until the hub answers. A device whose group `diverged`
        rejoins so: the commit removes its old leaf (a resync, RFC 9420 §12.4.3.2),
        and the group of the hub's GroupInfo replaces the one it could not go on with."""
        old = self.rooms.get(room)
        if old is not None and old.group.is_active and room not in self.diverged:
            raise MimiError(f"{self.uri} is a member of {room} already")
        group, out = self.client.join_external(group_info, ratchet_tree)
        self.rooms[room] = self._member_again(room, group, 0, old)
        self.pending[room] = out
        self.joining[room] = old
        return out

    def _member_again(self, room: str, group: _core.Group, sequence: int, old: RoomView | None) -> RoomView:
        """The view of a room this device joined at `sequence`. A device removed
        before keeps the history it showed then, and what it processed; what the
        room said while it was out never reached it (docs/guarantees.md)."""
        self.pending_leaves.pop(room, None)
        if old is None:
            return RoomView(group, content.RoomHistory(room), sequence)
        return RoomView(group, old.history, max(sequence, old.last_sequence))

    def update_accepted(self, room: str, accepted_timestamp: int | None = None) -> EpochChanged:
        """The hub accepted this client's commit (at `accepted_timestamp`, where an
        external join starts): apply it."""
        view = self.rooms[room]
        self.pending.pop(room)
        self.pending_leaves.pop(room, None)
        if room in self.joining:
            del self.joining[room]
            # openmls merged the external commit already; the group enters the device's
            # state now, in place of one it was removed from.
            self.client.adopt(view.group)
            view.joined_at = accepted_timestamp or 0
            self.diverged.pop(room, None)
        else:
            view.group.merge_pending_commit()
        return EpochChanged(room, view.group.epoch, self.uri)

    def update_refused(self, room: str) -> None:
        """The hub refused this client's commit: drop it (an external join's group too,
        back to the view it replaced)."""
        self.pending.pop(room)
        if room in self.joining:
            old = self.joining.pop(room)
            if old is None:
                del self.rooms[room]
            else:
                self.rooms[room] = old
        else:
            self.rooms[room].group.clear_pending_commit()

    def propose_leave(self, room: str) -> bytes:
        return self.rooms[room].group.propose_leave()

    # -- messages -----------------------------------------------------------

    def send(self, room: str, message: content.MimiContent, encoded: bytes | None = None) -> tuple[bytes, bytes]:
        """Encrypts `message`; returns (SubmitMessageRequest body, message ID).
        `encoded`: its CBOR, if the caller decoded it from there (the strict
        decoder takes only the one encoding `content.encode` writes).

        The sender's view shows it once the hub accepts it (`submit_answered`),
        at the hub's accepted_timestamp like everyone else's."""
        view = self.rooms[room]
        data = content.encode(message) if encoded is None else encoded
        out = Outgoing(room, content.message_id(data, self.user, room), data, view.group.encrypt(data), decoded=message)
        self._keep(out)
        return self.body(out.message_id), out.message_id

    def body(self, message_id: bytes) -> bytes:
        """The SubmitMessageRequest of an unanswered message, the same bytes each time."""
        return _core.SubmitMessageRequest(self.outbox[message_id].ciphertext, self.user).encode()

    def unanswered(self, room: str) -> list[bytes]:
        """The message IDs of the room's unanswered messages, in send order (to
        resubmit after a restart)."""
        return [m for m, out in self.outbox.items() if out.room == room]

    def submit_answered(self, message_id: bytes, response: bytes) -> MessageShown | Refused | EpochTooOld | None:
        """The hub's SubmitMessageResponse to a message this client sent; None if
        it was answered already (its fan-back came first)."""
        out = self.outbox.get(message_id)
        if out is None:
            return None
        answer = _core.SubmitMessageResponse.decode(response)
        if answer.status == "accepted" and answer.accepted_timestamp is not None:
            del self.outbox[message_id]
            self.unsaved_answers.add(message_id)
            return self._shown(out, 0, answer.accepted_timestamp)
        if answer.status == "epochTooOld" and answer.current_epoch is not None and out.attempts < RESEND_ATTEMPTS:
            return EpochTooOld(out.room, message_id, answer.current_epoch)
        self._forget(out)
        return Refused(out.room, 0, f"hub answered {answer.status}")

    def behind(self, room: str, epoch: int) -> bool:
        """Whether this device's group of `room` is still before the hub's `epoch`."""
        view = self.rooms.get(room)
        return view is not None and view.group.is_active and view.group.epoch < epoch

    def resend(self, refused: EpochTooOld) -> Refused | None:
        """Encrypts a message refused as epochTooOld again, in this device's current
        epoch, once it caught up with the hub's: the same content, so the same
        message ID (`body` has the new bytes). Its old ciphertext never reaches
        anyone. A Refused if this device is no longer a member, or still behind."""
        out = self.outbox[refused.message_id]
        view = self.rooms.get(out.room)
        if view is None or not view.group.is_active:
            self._forget(out)
            return Refused(out.room, 0, "no longer a member of the room")
        if view.group.epoch < refused.current_epoch:
            self._forget(out)
            return Refused(out.room, 0, f"could not catch up with the room's epoch {refused.current_epoch}")
        del self.sent[out.ciphertext]
        self._keep(replace(out, ciphertext=view.group.encrypt(out.content), attempts=out.attempts + 1))
        return None

    def _keep(self, out: Outgoing) -> None:
        self.outbox[out.message_id] = out
        self.sent[out.ciphertext] = out
        self.unsaved_sent[out.message_id] = out

    def _forget(self, out: Outgoing) -> None:
        self.outbox.pop(out.message_id, None)
        self.sent.pop(out.ciphertext, None)
        self.unsaved_sent[out.message_id] = None

    def _shown(self, out: Outgoing, sequence: int, timestamp: int) -> MessageShown:
        message = out.decoded or content.decode(out.content)
        applied = self.rooms[out.room].history.receive(message, out.message_id, self.user, timestamp)
        change = "sequenced" if sequence else applied.change.value
        return MessageShown(out.room, sequence, out.message_id, self.user, change, out.content, timestamp)

    def sending_changes(self) -> tuple[list[tuple[Outgoing, bool]], list[bytes], list[bytes]]:
        """What changed in the sent messages since `sending_saved`: those to save
        (encrypted, or again), each with whether it was answered; the message IDs
        answered; those to forget (fanned back, or refused). Saving costs what
        changed, not what is in flight."""
        kept, gone = [], []
        for message_id, out in self.unsaved_sent.items():
            if out is None:
                gone.append(message_id)
            else:
                kept.append((out, message_id not in self.outbox))
        answered = [m for m in self.unsaved_answers if m not in self.unsaved_sent]
        return kept, answered, gone

    def sending_saved(self) -> None:
        self.unsaved_sent.clear()
        self.unsaved_answers.clear()

    def restore_sent(self, out: Outgoing, answered: bool) -> None:
        """A sent message as saved (in send order)."""
        self.sent[out.ciphertext] = out
        if not answered:
            self.outbox[out.message_id] = out

    # -- events from the provider --------------------------------------------

    def gap(self, room: str, previous: int) -> Gap | None:
        """A delivery of `room` says the last event delivered to this device before it
        was `previous` (`Delivery.previous`): a Gap if this device never processed it."""
        view = self.rooms.get(room)
        if view is not None and not view.group.is_active:
            return None  # removed: nothing more of the room is for it
        last = view.last_sequence if view is not None else self.unjoined.get(room, 0)
        return Gap(room, last, previous) if previous > last else None

    def deliver(self, room: str, sequence: int, fanout: bytes) -> list[Event]:
        """One event of the room, in the hub's order. An event this device cannot
        take is a Refused and changes nothing else."""
        if room in self.joining:
            # Its external join awaits the hub's answer: taken again from the inbox after
            # it, when its own commit comes (`gap`), and skipped if it came before that.
            return []
        view = self.rooms.get(room)
        if view is None or not view.group.is_active:
            # Not a member (or no longer): only a Welcome is for it, one later than
            # what it processed while it was (a removed device added again).
            if view is None:
                self.unjoined[room] = max(sequence, self.unjoined.get(room, 0))
            try:
                message = _core.FanoutMessage.decode(fanout)
                if message.kind == "welcome" and (view is None or sequence > view.last_sequence):
                    return self._welcome(room, sequence, message, view)
                return []
            except MimiError as err:
                return [Refused(room, sequence, str(err))]
        if sequence <= view.last_sequence:
            return []  # a duplicate delivery
        view.last_sequence = sequence
        try:
            message = _core.FanoutMessage.decode(fanout)
            if message.timestamp < view.joined_at:
                return []  # sequenced before this device joined: of an epoch it has no secrets of
            if message.kind == "welcome":
                return []  # a member already
            if message.kind == "application":
                return self._application(room, view, sequence, message)
            epoch = _core.message_header(message.message)[1]
            if epoch < view.group.epoch:
                # This client's own handshake fanned back after it merged it, or a stale copy.
                if message.kind == "commit":
                    # Everything the hub ordered before this commit is processed: no message
                    # of its epoch or an earlier one can come any more.
                    view.group.forget_past_epochs(view.group.epoch - epoch - 1)
                return []
        except MimiError as err:
            return [Refused(room, sequence, str(err))]
        try:
            return self._handshake(room, view, sequence, message)
        except MimiError as err:
            # The hub sequenced it, so the room's members go on from it: this device cannot
            # (a membership_tag or confirmation_tag the hub could not check, a commit after
            # one it missed). Its group left the room's for good; it rejoins.
            self.diverged.setdefault(room, sequence)
            return [Refused(room, sequence, f"diverged from the room: {err}")]

    def _welcome(self, room: str, sequence: int, message: _core.FanoutMessage, old: RoomView | None) -> list[Event]:
        tree = message.ratchet_tree_option
        if tree is None or tree.ratchet_tree is None:
            return [Refused(room, sequence, "Welcome without a full ratchet tree")]
        group = self.client.join_welcome(message.message, tree.ratchet_tree)  # in place of a group it was removed from
        self.unjoined.pop(room, None)
        self.rooms[room] = view = self._member_again(room, group, sequence, old)
        view.joined_at = message.timestamp  # its commit's
        return [Joined(room, group.epoch)]

    def _application(self, room: str, view: RoomView, sequence: int, message: _core.FanoutMessage) -> list[Event]:
        got = view.group.process(message.message)
        if got.kind == "own_message":
            # Shown when the hub accepted it (again here, once: by message ID); now its
            # room sequence is known. Its fan-back also answers it.
            own = self.sent.get(message.message)
            if own is None:
                return []
            self._forget(own)
            return [self._shown(own, sequence, message.timestamp)]
        if got.plaintext is None or got.sender_identity is None:
            raise RemoteProtocolError("application message without content")
        sender = ids.user_of(got.sender_identity)
        applied = view.history.receive_bytes(got.plaintext, sender_uri=sender, accepted_at=message.timestamp)
        return [MessageShown(room, sequence, applied.message_id, sender, applied.change.value, got.plaintext, message.timestamp)]

    def _handshake(self, room: str, view: RoomView, sequence: int, message: _core.FanoutMessage) -> list[Event]:
        before = self.state_of(room)
        got = view.group.process(message.message, app_data_resolver(before.members))
        if got.kind == "own_commit":
            self.pending.pop(room, None)
            view.group.merge()
            view.group.forget_past_epochs(0)
            return [EpochChanged(room, view.group.epoch, self.uri)]
        if got.kind == "proposal":
            leaving = self.pending_leaves.setdefault(room, set())
            leaving.update(r.identity for r in got.removed)
            view.group.merge()
            for extra in message.proposals:
                leaving.update(r.identity for r in view.group.process(extra).removed)
                view.group.merge()
            return []
        # A commit the hub accepted: check the room policy as the hub did. A
        # mismatch means the hub and this client disagree on the policy; the
        # commit is taken (the group must not fork) and the mismatch reported.
        events: list[Event] = []
        committer = got.sender_identity or (got.external_join[0] if got.external_join else None)
        if committer is not None:
            decision = authorize_update(before, Actor(committer), proposed_change(got))
            if not decision.allowed:
                events.append(Refused(room, sequence, f"policy mismatch with the hub: {decision.reason}"))
        view.group.merge()
        self.pending_leaves.pop(room, None)
        if got.self_removed:
            return [*events, Removed(room)]
        view.group.forget_past_epochs(0)  # merged in the hub's order: nothing before it can come
        for extra in message.proposals:
            view.group.process(extra)
            view.group.merge()
        return [*events, EpochChanged(room, view.group.epoch, committer)]

    # -- what the user sees ------------------------------------------------------

    def shown(self, room: str, now: int) -> list[content.Entry]:
        return self.rooms[room].history.messages(now)



def commit_bundle(out: _core.CommitOutput) -> bytes:
    """The `/update` body of a commit: the commit with its Welcome (bare), the
    GroupInfo of the new epoch (full) and the full ratchet tree."""
    return _core.HandshakeBundle(
        out.commit,
        welcome=None if out.welcome is None else bare_welcome(out.welcome),
        group_info_option=_core.GroupInfoOption("full", bare_group_info(out.group_info)),
        ratchet_tree_option=_core.RatchetTreeOption("full", out.ratchet_tree),
    ).encode()


def proposal_bundle(proposal: bytes, more: Sequence[bytes] = ()) -> bytes:
    """The `/update` body of one or more proposals."""
    return _core.HandshakeBundle(proposal, more_proposals=list(more)).encode()
