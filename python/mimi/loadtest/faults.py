"""Fault injection for load runs and the fault suite (pure: no Ray, no clock).

`plan` draws from a seeded RNG when client hosts, room hubs and providers (the
followers) are killed, and which users are added to and removed from each room,
while numbered messages stream in.
`audit` then holds what every device shows against the hub's log (the contract of
docs/guarantees.md): every application message the hub acknowledged is shown
exactly once, at its hub timestamp, by every device that was a member at its
sequence; the members agree on the epoch authenticator.

A shown message is placed by its `accepted_timestamp`: the hub gives each event of
a room a strictly greater one (`HubRoom._clock`), so the timestamp names the hub
sequence, and a history ordered by it is in hub order. Its identity is (sender
user, counter), the counter carried in the text (`pacing.load_text`).
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# -- what to inject ---------------------------------------------------------------

FAULT_LIMITS = {"kill-hosts": 1000, "kill-hub": 1000, "kill-providers": 1000, "adds": 100, "removes": 100,
                "readds": 100, "seed": 2**32 - 1}


@dataclass(frozen=True, slots=True)
class Faults:
    """How many kills of client hosts, room hubs and providers, adds, removes and
    re-adds (of a user removed before) a run injects, drawn from `seed`."""

    kill_hosts: int = 3
    kill_hub: int = 0
    kill_providers: int = 0
    adds: int = 1
    removes: int = 1
    seed: int = 0
    readds: int = 0

    def __post_init__(self) -> None:
        for key, high in FAULT_LIMITS.items():
            value = getattr(self, key.replace("-", "_"))
            if not 0 <= value <= high:
                raise ValueError(f"{key} must be >= 0 and <= {high}, got {value}")

    @classmethod
    def parse(cls, text: str) -> Faults:
        """`kill-hosts:N,kill-hub:N,kill-providers:N,adds:N,removes:N,readds:N,seed:N`,
        each part optional (the defaults)."""
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            key, sep, value = part.partition(":")
            if key not in FAULT_LIMITS or not sep:
                raise ValueError(f"unknown fault {part!r}: use " + ",".join(f"{k}:N" for k in FAULT_LIMITS))
            try:
                values[key.replace("-", "_")] = int(value)
            except ValueError:
                raise ValueError(f"{key}: not a number: {value!r}") from None
        return cls(**values)

    def __str__(self) -> str:
        return ",".join(f"{key}:{getattr(self, key.replace('-', '_'))}" for key in FAULT_LIMITS)


@dataclass(frozen=True, slots=True)
class Kill:
    at: float  # seconds after sending starts
    host: str


@dataclass(frozen=True, slots=True)
class KillServer:
    at: float
    role: str  # "hub" (name: its room) or "provider" (name: its URI)
    name: str


@dataclass(frozen=True, slots=True)
class Add:
    at: float
    room: str
    user: str


@dataclass(frozen=True, slots=True)
class Remove:
    at: float
    room: str
    user: str


Action = Kill | KillServer | Add | Remove


@dataclass(frozen=True, slots=True)
class Churn:
    """A room's candidates: members that may be removed, users that may be added."""

    room: str
    removable: tuple[str, ...]
    newcomers: tuple[str, ...]


WINDOW = (0.1, 0.8)  # faults fall in this part of the sending time: the end is left to recover


def plan(faults: Faults, duration: float, hosts: Sequence[str], sender_host: str, rooms: Sequence[Churn],
         providers: Sequence[str] = ()) -> list[Action]:
    """The run's faults in time order. Every host is killed before any is killed
    twice, the sender's host among the first, and so is every room's hub and every
    provider; adds take newcomers in order, each due with a remove while there are
    removes; a remove takes a member of that moment (never one already removed, nor
    the one added with it); a re-add takes back a user removed before it (each
    once); what has no candidate left is not planned."""
    rng = random.Random(faults.seed)
    low, high = WINDOW[0] * duration, WINDOW[1] * duration

    def moments(n: int) -> list[float]:
        return sorted(round(rng.uniform(low, high), 3) for _ in range(n))

    victims: list[str] = []
    while len(victims) < faults.kill_hosts:
        round_ = rng.sample(list(hosts), len(hosts))
        if not victims and sender_host in round_[faults.kill_hosts :]:  # few kills: the sender's host among them
            round_.remove(sender_host)
            round_.insert(rng.randrange(faults.kill_hosts), sender_host)
        victims += round_
    actions: list[Action] = [Kill(at, host) for at, host in zip(moments(faults.kill_hosts), victims)]
    for churn in rooms:
        # Each remove is due with an add while there are adds: their commits race.
        removals = moments(faults.removes)
        arrivals = sorted(removals[: faults.adds] + moments(max(0, faults.adds - faults.removes)))
        adds = [Add(at, churn.room, user) for at, user in zip(arrivals, churn.newcomers)]
        removed: set[str] = set()
        for at in removals:
            present = sorted({*churn.removable, *(a.user for a in adds if a.at < at)} - removed)
            if present:
                user = rng.choice(present)
                removed.add(user)
                actions.append(Remove(at, churn.room, user))
        readdable = [a for a in actions if isinstance(a, Remove) and a.room == churn.room]
        for _ in range(faults.readds):
            if not readdable:
                break
            removal = readdable.pop(rng.randrange(len(readdable)))
            adds.append(Add(round(rng.uniform(removal.at, high), 3), churn.room, removal.user))
        actions += adds
    # Drawn last: a plan without server kills is what it was before there were any.
    for role, count, names in (("hub", faults.kill_hub, [c.room for c in rooms]), ("provider", faults.kill_providers, providers)):
        if names:
            victims = [name for _ in range(-(-count // len(names))) for name in rng.sample(list(names), len(names))]
            actions += [KillServer(at, role, name) for at, name in zip(moments(count), victims)]
    return sorted(actions, key=lambda a: a.at)


# -- what was acknowledged and what is shown --------------------------------------------


@dataclass(frozen=True, slots=True)
class Logged:
    """One event of the hub's log of a room."""

    sequence: int
    kind: str  # of its FanoutMessage: application, commit, welcome, proposal
    timestamp: int  # accepted_timestamp (ms)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The hub's group at its last sequence: the members owed what comes after."""

    sequence: int
    members: frozenset[str]  # client URIs


@dataclass(frozen=True, slots=True)
class DeviceView:
    """What one device shows in a room."""

    client: str
    member: bool
    epoch_authenticator: str | None  # hex; None outside the room
    messages: tuple[tuple[int, str, int], ...]  # (accepted timestamp, sender user, counter), as displayed


@dataclass(frozen=True, slots=True)
class Audit:
    acknowledged: int  # application messages in the hub's log
    expected: int  # (device, message) pairs owed: each message to each member at its sequence
    shown: int  # owed pairs shown, at the message's hub timestamp
    lost: int  # owed and not shown
    duplicated: int  # a device shows one (sender, counter) more than once
    unexpected: int  # shown by a device that was not a member at the message's sequence
    misplaced: int  # shown at a timestamp the hub gave no application message, or with another identity
    agree: bool  # every member at the end shows itself a member with the same epoch authenticator
    changes: int  # changes of membership while sending (adds and removes the hub took)
    lost_at: dict[str, list[int]] = field(default_factory=dict)  # client -> hub sequences it misses (first 20)
    unseen: list[int] = field(default_factory=list)  # acknowledged sequences no device shows (first 20)
    disagreeing: list[str] = field(default_factory=list)  # clients whose membership or epoch is off

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected or self.misplaced) and self.agree

    def to_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__} | {"clean": self.clean}


@dataclass(frozen=True, slots=True)
class Change:
    """The group's members before and after the commits between two snapshots."""

    first: int  # sequence of the first of those commits
    last: int  # of the last: the same one, unless a change was resent late and two met
    before: frozenset[str]
    after: frozenset[str]

    def owed(self, sequence: int) -> tuple[frozenset[str], bool]:
        """Who is owed a message sequenced after `first`, and whether others may be:
        between two commits it is not known which of them did what."""
        if sequence > self.last:
            return self.after, False
        return self.before & self.after, True


def membership(log: Iterable[Logged], snapshots: Sequence[Snapshot]) -> list[Change]:
    """The changes of membership, in order. Snapshots are taken while changes are in
    flight and after each: mostly one commit lies between two snapshots whose members
    differ. Should two (racing changes, or a change resent late), members are only
    certain outside the commits; more commits than changes are no error."""
    if not snapshots:
        raise ValueError("no snapshot of the group")
    commits = sorted(e.sequence for e in log if e.kind == "commit")
    changes = []
    for before, after in itertools.pairwise(snapshots):
        between = [c for c in commits if before.sequence < c <= after.sequence]
        if after.members != before.members and not between:
            raise ValueError(f"membership changed between sequences {before.sequence} and {after.sequence} "
                             "with no commit there")
        if after.members != before.members or len(between) > 1:
            changes.append(Change(between[0], between[-1], before.members, after.members))
    return changes


def audit(log: Sequence[Logged], snapshots: Sequence[Snapshot], views: Sequence[DeviceView]) -> Audit:
    changes = membership(log, snapshots)
    applications = [e for e in log if e.kind == "application" and e.sequence > snapshots[0].sequence]
    sequence_at = {e.timestamp: e.sequence for e in applications}

    def owed_at(sequence: int) -> tuple[frozenset[str], bool]:
        """Who is owed the message at `sequence`, and whether others may be."""
        owed, loose = snapshots[0].members, False
        for change in changes:
            if change.first >= sequence:
                break
            owed, loose = change.owed(sequence)
        return owed, loose

    # Each sequence's identity: what the devices show at its timestamp (the most of them).
    votes: dict[int, Counter[tuple[str, int]]] = {}
    for view in views:
        for timestamp, sender, counter in view.messages:
            if timestamp in sequence_at:
                votes.setdefault(sequence_at[timestamp], Counter())[(sender, counter)] += 1
    identity = {sequence: counts.most_common(1)[0][0] for sequence, counts in votes.items()}

    expected = shown = lost = duplicated = unexpected = misplaced = 0
    lost_at: dict[str, list[int]] = {}
    owed_by = {e.sequence: owed_at(e.sequence) for e in applications}
    for view in views:
        owed = {q for q, (members, _) in owed_by.items() if view.client in members}
        maybe = {q for q, (members, loose) in owed_by.items() if loose and view.client not in members}
        placed = set()
        for timestamp, sender, counter in view.messages:
            sequence = sequence_at.get(timestamp)
            if sequence is None or identity[sequence] != (sender, counter):
                misplaced += 1
            else:
                placed.add(sequence)
        duplicated += len(view.messages) - len({(sender, counter) for _, sender, counter in view.messages})
        unexpected += len(placed - owed - maybe)
        missing = sorted(owed - placed)
        expected, shown, lost = expected + len(owed), shown + len(owed & placed), lost + len(missing)
        if missing:
            lost_at[view.client] = missing[:20]

    final = snapshots[-1].members
    by_client = {v.client: v for v in views}
    epochs = {by_client[c].epoch_authenticator for c in final if c in by_client}
    disagreeing = sorted(
        c for c, v in by_client.items() if v.member != (c in final) or (c in final and len(epochs) > 1)
    ) + sorted(c for c in final if c not in by_client)
    return Audit(
        acknowledged=len(applications), expected=expected, shown=shown, lost=lost, duplicated=duplicated,
        unexpected=unexpected, misplaced=misplaced, agree=not disagreeing, changes=len(changes), lost_at=lost_at,
        unseen=sorted(e.sequence for e in applications if e.sequence not in identity)[:20], disagreeing=disagreeing,
    )


def merged(audits: Sequence[Audit]) -> Audit:
    """The audits of several rooms as one (lists keyed by client, or cut at 20)."""
    counts = {name: sum(getattr(a, name) for a in audits)
              for name in ("acknowledged", "expected", "shown", "lost", "duplicated", "unexpected", "misplaced", "changes")}
    return Audit(**counts, agree=all(a.agree for a in audits),
                 lost_at={c: s for a in audits for c, s in a.lost_at.items()},
                 unseen=[s for a in audits for s in a.unseen][:20],
                 disagreeing=sorted({c for a in audits for c in a.disagreeing}))


# -- time to recover -----------------------------------------------------------------------


@dataclass
class Recovery:
    """One kill: when, which host, what the hub had sequenced then (per room), and
    when the restarted host's member devices had processed all of it."""

    host: str
    at: float  # seconds after sending started
    targets: dict[str, int]  # room -> the hub's last sequence at the kill
    recovered: float | None = None  # seconds from the kill; None: not caught up

    def caught_up(self, processed: dict[str, dict[str, int]], members: dict[str, frozenset[str]]) -> bool:
        """Whether every device of the host that is a member of a room (`members`)
        processed the room up to the target (`processed`: room -> client -> last)."""
        return all(
            processed.get(room, {}).get(client, 0) >= target
            for room, target in self.targets.items()
            for client in members.get(room, frozenset())
        )

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "at_s": self.at, "recovered_s": self.recovered}
