"""The hub of one room (sans-IO): validates `/update` and `/submitMessage` bodies
with its MLS view of the group and the room policy, orders what it accepts
with a per-room sequence and `accepted_timestamp`, and says where each event
goes (draft-ietf-mimi-protocol §Update Room State, §Submit a Message, §Fanout
Messages and Room Events).

Inputs are wire bytes, the authenticated provider that sent them, and `now`
(milliseconds since the UNIX epoch); outputs are the response body and the
`Fanout` events to send. Persisting and sending are the caller's.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from mimi import _core, ids
from mimi.codes import MlsMessageKind, UpdateResponseCode
from mimi.errors import DecodeError, InvalidSignature, MimiError, MlsError, WrongEpoch
from mimi.logic.follower import MAX_AHEAD
from mimi.logic.framing import group_info_message, welcome_message
from mimi.logic.room import app_data_resolver, proposed_change
from mimi.policy import authorize_submit, authorize_update, may_receive
from mimi.room import Actor, ProposedChange, RemoveClient, RoomState

# The caller's durable record of answers given (`RoomHub`: `HubStore.answers`): the
# answers stored for those of the digests it holds.
Lookup = Callable[[list[bytes]], Mapping[bytes, bytes]]


class RefusedProposal(Exception):
    """A proposal the room policy refuses (answered notAllowed)."""


@dataclass(frozen=True, slots=True)
class Fanout:
    """One accepted event: its room sequence, the providers it goes to, and the
    users whose clients are not owed it (an application message, §Message Capabilities)."""

    room: str
    sequence: int
    timestamp: int
    destinations: frozenset[str]  # provider URIs
    message: bytes  # FanoutMessage encoding
    withheld: frozenset[str] = frozenset()  # user URIs


@dataclass(frozen=True, slots=True)
class _Epoch:
    """What the hub derives from the room state once per epoch."""

    key: tuple[int, bytes]  # (epoch, tree hash)
    state: RoomState
    providers: frozenset[str]  # where every handshake goes
    # draft-ietf-mimi-room-policy §Message Capabilities: "[The Hub] can also withhold
    # fanout of application messages to clients of a user" without canReceiveMessage.
    withheld: frozenset[str]  # users with clients in the group, not owed application messages
    readers: frozenset[str]  # where application messages go: the providers of a user owed them


@dataclass
class HubRoom:
    room: str
    hub: str  # the hub's provider URI
    view: _core.HubView
    sequence: int = 0  # last sequence assigned (1-based; 0: none)
    welcome_routes: dict[bytes, str] = field(default_factory=dict)  # KeyPackageRef -> provider
    # The hub's own Remove proposals cached for the next commit: leaf -> (client, accepted_timestamp).
    pending_removals: dict[int, tuple[str, int]] = field(default_factory=dict)
    last_timestamp: int = 0  # last accepted_timestamp given (ms)
    # Answers given, by digest of the handshake or application message: a provider
    # that retries (it could not tell whether its call went through) gets the same
    # answer and nothing is fanned out twice, however late. A message is accepted only
    # in its own epoch, so the answers that stop a second sequencing are the current
    # epoch's: `unindexed` holds those the caller does not keep durably yet (it puts
    # them in its index when they grow many, then calls `settle_answers`; after a
    # restart it rebuilds them from its log, `answered_in_log`), its `Lookup` the
    # others. `answered`: the REMEMBERED latest of the rest (indexed, or of an older
    # epoch, which a late retry still gets rather than epochTooOld).
    unindexed: dict[bytes, bytes] = field(default_factory=dict)
    answered: OrderedDict[bytes, bytes] = field(default_factory=OrderedDict)

    REMEMBERED = 4096
    # A follower refuses a /notify that reaches more than MAX_AHEAD past what it
    # delivered (logic.follower); a provider skipped that long (every user of it
    # withheld) would stall. So a provider skipped for KEEP_ALIVE events in a row is
    # sent the next one anyway, its users withheld from it (docs/interop.md, "/notify").
    KEEP_ALIVE = MAX_AHEAD // 2
    _epoch: _Epoch | None = field(default=None, repr=False, compare=False)
    # provider -> first sequence of its current run of skipped events; None in a
    # restored room, which does not know the runs: its next skipping event goes to
    # every provider of the room.
    _skip_runs: dict[str, int] | None = field(default_factory=dict, repr=False, compare=False)
    _senders: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def create(cls, room: str, hub: str, group_info: bytes, ratchet_tree: bytes) -> HubRoom:
        """Starts hosting a room from its creator's GroupInfo (MLSMessage) and tree."""
        view = _core.HubView.from_group_info(group_info, ratchet_tree)
        RoomState.from_app_data(view.app_data())  # the room state must decode
        return cls(room, hub, view)

    # -- state ----------------------------------------------------------------

    @property
    def state(self) -> RoomState:
        """The room state of the current epoch (decoded once per epoch: the
        message path reads it for every submission)."""
        return self._epoch_view().state

    def providers(self) -> frozenset[str]:
        """Where the room's handshakes go: the hub and every provider with a participant
        or a client in the room (draft-ietf-mimi-arch: followers)."""
        return self._epoch_view().providers

    def _epoch_view(self) -> _Epoch:
        key = (self.view.epoch, self.view.tree_hash)
        if self._epoch is None or self._epoch.key != key:
            state = RoomState.from_app_data(self.view.app_data(), [m.identity for m in self.view.members()])
            active = state.active_users()
            users = active | {p.user for p in state.participants.participants if p.user.startswith("mimi://")}
            withheld = frozenset(u for u in active if not may_receive(state, u))
            self._epoch = _Epoch(
                key, state,
                providers=frozenset({self.hub} | {ids.provider_of(u) for u in users}),
                withheld=withheld,
                readers=frozenset({self.hub} | {ids.provider_of(u) for u in users - withheld}),
            )
            self._senders = {}
        return self._epoch

    def _may_submit(self, sender: str) -> bool:
        """authorize_submit, decided once per sender and epoch."""
        state = self.state
        allowed = self._senders.get(sender)
        if allowed is None:
            allowed = self._senders[sender] = authorize_submit(state, sender).allowed
        return allowed

    def record_key_packages(self, provider: str, refs: list[bytes]) -> None:
        """KeyPackages claimed from `provider` for this room: route their Welcome there."""
        for ref in refs:
            self.welcome_routes[ref] = provider

    def export(self) -> bytes:
        return bytes(msgpack.packb(
            {
                "room": self.room,
                "hub": self.hub,
                "view": self.view.export_state(),
                "sequence": self.sequence,
                "routes": list(self.welcome_routes.items()),
                "removals": list(self.pending_removals.items()),
                "clock": self.last_timestamp,
            }
        ))

    @classmethod
    def restore(cls, data: bytes) -> HubRoom:
        try:
            d = msgpack.unpackb(data)
            room = cls(
                d["room"], d["hub"], _core.HubView.import_state(d["view"]), d["sequence"],
                dict((bytes(k), v) for k, v in d["routes"]), _removals(d["removals"], d["clock"]), d["clock"],
            )
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as err:
            raise DecodeError(f"hub room record: {err}") from err
        room._skip_runs = None
        return room

    # -- /update ----------------------------------------------------------------

    def _clock(self, now: int, ticks: int = 1) -> int:
        """accepted_timestamp strictly increases within a room, so ordering by it
        (draft-ietf-mimi-content §Topics: by time, then message ID) keeps the hub's order.
        Returns the first of `ticks` consecutive timestamps."""
        first = max(now, self.last_timestamp + 1)
        self.last_timestamp = first + ticks - 1
        return first

    def update(
        self,
        provider: str,
        body: bytes,
        now: int,
        lookup: Lookup | None = None,
        hub_key: _core.SignatureKeyPair | None = None,
    ) -> tuple[bytes, list[Fanout]]:
        """Handles an `/update` body from `provider`. Refusals change nothing.
        `hub_key`: the hub's signature key as the room's external sender, with which
        it issues the Remove a client's leave asks for (without it, leaves are refused)."""
        now = self._clock(now)
        try:
            bundle = _core.HandshakeBundle.decode(body)
        except DecodeError as err:
            return _refuse("invalidProposal", f"malformed HandshakeBundle: {err}"), []
        key = _digest(bundle.proposal_or_commit)
        answered = self._answer(key)
        if answered is None and lookup is not None:
            answered = lookup([key]).get(key)
        if answered is not None:
            return answered, []
        epoch = self.view.epoch
        try:
            if bundle.kind == "commit":
                response, events = self._commit(provider, bundle, now, hub_key)
            else:
                response, events = self._proposals(provider, bundle, now, hub_key)
            if events and self.view.epoch == epoch:
                self.unindexed[key] = response
            elif events:  # a commit: no message of the last epoch can be accepted again
                self.settle_answers()
                self.remember(key, response)
            return response, events
        except WrongEpoch:
            self.view.discard()
            return _core.UpdateResponse("wrongEpoch", "", current_epoch=self.view.epoch).encode(), []
        except (DecodeError, InvalidSignature, MlsError) as err:
            self.view.discard()
            return _refuse("invalidProposal", str(err)), []

    def _sender(self, provider: str, got: _core.Processed) -> str:
        sender = got.sender_identity or (got.external_join[0] if got.external_join else None)
        if sender is None:
            raise MlsError(f"a {got.sender_kind} sender cannot submit through /update")
        if ids.provider_of(sender) != provider:
            raise MlsError(f"{provider} cannot submit for {sender}")
        return sender

    def _proposals(
        self, provider: str, bundle: _core.HandshakeBundle, now: int, hub_key: _core.SignatureKeyPair | None
    ) -> tuple[bytes, list[Fanout]]:
        """Leave requests: each proposal of the bundle must be its sender's Remove of
        its own leaf, all or none. The hub checks what it can (the signature by the
        sender's leaf key, the epoch, the room policy) and issues the Remove itself as
        the room's external sender: members verify that one whole, while a member's
        membership_tag is a MAC the hub cannot check, and a bad one would make every
        member refuse the proposal and the hub refuse every commit that does not cover
        it (docs/interop.md, "Leaving through the hub"). The other changes must come in
        a commit, where policy sees them whole."""
        try:
            leaving = dict(self._leave(provider, request) for request in [bundle.proposal_or_commit, *bundle.more_proposals])
        except RefusedProposal as err:
            return _refuse("notAllowed", str(err)), []
        new = {leaf: client for leaf, client in leaving.items() if leaf not in self.pending_removals}
        if not new:  # asked again (a retry): the Remove is cached already
            return _success(min(self.pending_removals[leaf][1] for leaf in leaving)), []
        if hub_key is None:
            return _refuse("notAllowed", "this hub issues no Remove proposals"), []
        return _success(now), [self._issue_removes({leaf: (client, now) for leaf, client in new.items()}, hub_key, now)]

    def _issue_removes(self, leaves: Mapping[int, tuple[str, int]], hub_key: _core.SignatureKeyPair, now: int) -> Fanout:
        """The hub's own Remove proposals of `leaves` (leaf -> (client, accepted time of
        the request)), cached for the next commit, all or none; their fanout event."""
        # The view caches each proposal as it goes: keep its state to undo a partial set.
        before = self.view.export_state() if len(leaves) > 1 else None
        removes = []
        try:
            for leaf in leaves:
                removes.append(self.view.propose_remove(leaf, hub_key))
                self.view.process(removes[-1])
                self.view.merge()
        except MimiError:
            self.view.discard()
            if before is not None:
                self.view = _core.HubView.import_state(before)
            raise
        self.pending_removals.update(leaves)
        fanout = _core.FanoutMessage(now, removes[0], proposals=removes[1:]).encode()
        return self._stamp(now, self.providers(), fanout)

    def _leave(self, provider: str, request: bytes) -> tuple[int, str]:
        """Validates one leave request (a proposal, which must be its sender's own
        Remove): (its leaf, its client). The proposal itself is not cached."""
        got = self.view.process(request)
        self.view.discard()
        sender = self._sender(provider, got)
        own_leaf = got.sender_index
        if own_leaf is None or got.added or got.app_data or [r.leaf_index for r in got.removed] != [own_leaf]:
            raise RefusedProposal("only a client's own Remove (leaving) is accepted as a proposal")
        decision = authorize_update(self.state, Actor(sender), ProposedChange((RemoveClient(sender),)))
        if not decision.allowed:
            raise RefusedProposal(decision.reason)
        return own_leaf, sender

    def _commit(
        self, provider: str, bundle: _core.HandshakeBundle, now: int, hub_key: _core.SignatureKeyPair | None
    ) -> tuple[bytes, list[Fanout]]:
        option = bundle.group_info_option
        if option is None or option.group_info is None:
            return _refuse("invalidProposal", "a commit needs the full GroupInfo of its new epoch"), []
        # draft-ietf-mimi-protocol §Update Room State: ratchetTreeOption
        # (draft-mahy-mls-ratchet-tree-options). The hub builds the tree from the
        # handshakes themselves (all PublicMessages) and gives that one to joiners, so it
        # takes `full` (the committer's copy, not used) and `distributionService`; it
        # fetches nothing, and cannot point joiners elsewhere (docs/interop.md).
        tree = bundle.ratchet_tree_option
        if tree is None or tree.representation not in _TREES_THE_HUB_USES:
            representation = "none" if tree is None else tree.representation
            return _refuse("invalidProposal", f"ratchetTreeOption {representation}: this hub takes full or distributionService"), []
        before = self.state
        destinations_before = self.providers()
        got = self.view.process(
            bundle.proposal_or_commit, group_info_message(option.group_info), app_data_resolver(before.members)
        )
        sender = self._sender(provider, got)
        removed = {r.leaf_index for r in got.removed}
        uncovered = sorted(set(self.pending_removals) - removed)
        # An external commit cannot cover proposals (RFC 9420 §12.4.3.2): the hub issues
        # its Removes again in the epoch the commit starts, for the next commit to cover.
        carried = got.external_join is not None and hub_key is not None
        if uncovered and not carried:
            self.view.discard()
            clients = ", ".join(self.pending_removals[leaf][0] for leaf in uncovered)
            return _refuse("notAllowed", f"the commit must cover the pending Remove of {clients}"), []
        change = proposed_change(got)
        decision = authorize_update(before, Actor(sender), change)
        if not decision.allowed:
            self.view.discard()
            return _refuse(decision.code, decision.reason), []
        self.view.merge()
        again = {leaf: self.pending_removals[leaf] for leaf in uncovered}
        self.pending_removals.clear()
        events = [self._stamp(now, destinations_before | self.providers(), _core.FanoutMessage(now, bundle.proposal_or_commit).encode())]
        if bundle.welcome is not None:
            events.append(self._welcome(now, welcome_message(bundle.welcome), got))
        if again:
            assert hub_key is not None  # `carried`
            events.append(self._issue_removes(again, hub_key, now))
        return _success(now), events

    def _welcome(self, now: int, welcome: bytes, got: _core.Processed) -> Fanout:
        """A Welcome goes only to the providers of the KeyPackages it is for."""
        by_ref = {a.key_package_ref: a.identity for a in got.added}
        destinations = set()
        for ref in _core.welcome_key_package_refs(welcome):
            provider = self.welcome_routes.pop(ref, None)
            if provider is None and ref in by_ref:
                provider = ids.provider_of(by_ref[ref])  # fetched outside /keyMaterial
            if provider is not None:
                destinations.add(provider)
        tree = _core.RatchetTreeOption("full", self.view.export_ratchet_tree())
        return self._stamp(now, frozenset(destinations), _core.FanoutMessage(now, welcome, ratchet_tree_option=tree).encode())

    # -- /submitMessage ------------------------------------------------------------

    def submit(self, provider: str, body: bytes, now: int) -> tuple[bytes, list[Fanout]]:
        """Handles a `/submitMessage` body from `provider` (a batch of one)."""
        responses, events = self.submit_many(provider, [body], now)
        return responses[0], events

    def submit_many(
        self, provider: str, bodies: Sequence[bytes], now: int, lookup: Lookup | None = None
    ) -> tuple[list[bytes], list[Fanout]]:
        """Handles `/submitMessage` bodies from `provider`, in order, as many `submit`
        calls would: one response per body, the events of those accepted. `lookup`
        (once per batch, for the digests not in memory): answers given before.

        The bytes work of the whole batch (decoding, digests, the FanoutMessage and
        response encodings) is one call into Rust; the decisions stay here."""
        if not bodies:
            return [], []
        first = self._clock(now, len(bodies))
        current = self._epoch_view()
        group_id, epoch = self.view.group_id, self.view.epoch
        epoch_too_old = _core.SubmitMessageResponse("epochTooOld", current_epoch=epoch).encode()
        own = f"{provider}/"
        allowed: dict[str, bool] = {}  # by sender, for this batch
        submissions = _core.read_submissions(bodies, first)
        found: Mapping[bytes, bytes] = {}
        if lookup is not None:
            missing = [s[2] for s in submissions if s is not None and s[:2] == (group_id, epoch) and self._answer(s[2]) is None]
            found = lookup(missing) if missing else found
        responses, events = [], []
        for timestamp, submission in enumerate(submissions, first):
            # Malformed (the response codes have no "malformed") or for another group.
            if submission is None or submission[0] != group_id:
                responses.append(_NOT_ALLOWED)
                continue
            _, message_epoch, key, sender, fanout, accepted = submission
            if not sender.startswith(own):  # the caller speaks for its own users only, replays too
                responses.append(_NOT_ALLOWED)
                continue
            answered = self.unindexed.get(key) or self.answered.get(key) or found.get(key)
            if answered is not None:
                responses.append(answered)
                continue
            if message_epoch != epoch:
                responses.append(epoch_too_old)
                continue
            if sender not in allowed:
                allowed[sender] = self._may_submit(sender)
            if not allowed[sender]:
                responses.append(_NOT_ALLOWED)
                continue
            events.append(self._stamp(timestamp, current.readers, fanout, current.withheld))
            self.unindexed[key] = accepted
            responses.append(accepted)
        return responses, events

    # -- answers given ------------------------------------------------------------------

    def _answer(self, key: bytes) -> bytes | None:
        return self.unindexed.get(key) or self.answered.get(key)

    def remember(self, key: bytes, response: bytes) -> None:
        self.answered[key] = response
        while len(self.answered) > self.REMEMBERED:
            self.answered.popitem(last=False)

    def settle_answers(self) -> None:
        """The `unindexed` answers are kept elsewhere now (the caller indexed them, or
        their epoch is over): memory keeps the latest of them."""
        for key, response in list(self.unindexed.items())[-self.REMEMBERED :]:
            self.remember(key, response)
        self.unindexed.clear()

    def answered_in_log(self, fanout_message: bytes) -> MlsMessageKind:
        """After a restart: a logged message of this epoch the caller had not indexed
        was accepted, and answered as `submit_many` or `update` answers. Returns its
        kind (a commit or Welcome is no answer: a commit ends the epoch's answers)."""
        message = _core.FanoutMessage.decode(fanout_message)
        kind = message.kind
        if kind == "application":
            response = _core.SubmitMessageResponse("accepted", accepted_timestamp=message.timestamp).encode()
        elif kind == "proposal":
            response = _success(message.timestamp)
        else:
            return kind
        self.unindexed[_digest(message.message)] = response
        return kind

    # -- helpers ----------------------------------------------------------------

    def _stamp(
        self, now: int, destinations: frozenset[str], message: bytes, withheld: frozenset[str] = frozenset()
    ) -> Fanout:
        self.sequence += 1
        skipped = self.providers() - destinations
        if skipped or self._skip_runs:
            destinations |= self._keep_alive(skipped)
        return Fanout(self.room, self.sequence, now, destinations, message, withheld)

    def _keep_alive(self, skipped: frozenset[str]) -> frozenset[str]:
        """Which of the providers `skipped` by the event being stamped get it anyway."""
        runs = self._skip_runs
        if runs is None:
            self._skip_runs = {}
            return skipped
        for provider in [p for p in runs if p not in skipped]:
            del runs[provider]  # it got this event: its run ended
        due = frozenset(p for p in skipped if self.sequence - runs.setdefault(p, self.sequence) >= self.KEEP_ALIVE)
        for provider in due:
            del runs[provider]
        return due


def _removals(saved: list[Any], clock: int) -> dict[int, tuple[str, int]]:
    """Pending removals as saved: leaf -> [client, accepted time]; a record of before
    the hub issued Removes itself saved leaf -> client (a member's proposal, fanned
    out already), which the next commit must cover alike."""
    return {int(leaf): (v, clock) if isinstance(v, str) else (str(v[0]), int(v[1])) for leaf, v in saved}


_NOT_ALLOWED = _core.SubmitMessageResponse("notAllowed").encode()
_TREES_THE_HUB_USES = frozenset({"full", "distributionService"})


def _digest(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


def _success(now: int) -> bytes:
    return _core.UpdateResponse("success", "", accepted_timestamp=now).encode()


def _refuse(code: UpdateResponseCode, reason: str) -> bytes:
    return _core.UpdateResponse(code, reason).encode()
