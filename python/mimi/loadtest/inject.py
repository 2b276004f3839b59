"""The faults of a `faults.plan`, injected into a running load phase on Ray.

Kills client hosts, room hubs and providers (`ray.kill(..., no_restart=False)`: Ray
restarts each from its SQLite files), and adds and removes users through two
committers per room, one for adds and one for removes, so that their commits race
each other and the stream. The hub's group is snapshotted on every tick while a
change is in flight and after each (`faults.membership`: racing commits that fall
between two snapshots count only the members certain on both sides). Each killed
host is timed until it caught up (`faults.Recovery`). `tick` does what is due and
never blocks longer than a call to a hub (or its restart): the caller keeps sending.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from mimi import _core
from mimi.actors.deploy import Deployment
from mimi.actors.hub import RoomHub
from mimi.ids import user_of
from mimi.loadtest.faults import Action, Add, Audit, Kill, KillServer, Logged, Recovery, Remove, Snapshot, audit
from mimi.loadtest.fleet import RECORD

CHANGE_TIMEOUT_S = 60.0  # an add or remove, or its committer's host coming back
RETRY_S = 1.0  # a change that goes again does so this much later (its committer caught up)
RETRIES = 5  # how often a change may go again (it lost a race, or died with an actor untaken)


@dataclass
class _InFlight:
    action: Add | Remove
    committer: str
    reply: Any  # the committer's call, then (if its host died) a ping of the restarted host
    started: float
    outcome: str = ""


class Injector:
    def __init__(self, deploy: Deployment, plan: list[Action], committers: dict[str, tuple[str, str]],
                 hosted: dict[str, list[str]]) -> None:
        self.deploy = deploy
        self.committers = committers  # room -> (the device that adds, the device that removes)
        self.rooms = list(committers)
        self.hosted = hosted  # host -> its devices
        self.kills = deque(a for a in plan if isinstance(a, Kill | KillServer))
        self.pending = [a for a in plan if isinstance(a, Add | Remove)]
        self.flights: list[_InFlight] = []
        self.raced = 0  # changes started while another was in flight
        self.retried: dict[str, int] = {}  # per change (`_race`), how often it went again
        self.changes: list[dict[str, Any]] = []  # each add or remove and what it got
        self.snapshots = {room: [self.snapshot(room)] for room in self.rooms}
        self.recoveries: list[Recovery] = []
        self.killed_ns: list[int] = []  # per recovery: when (CLOCK_MONOTONIC) its host was killed
        self.polls: dict[int, Any] = {}  # recovery -> the restarted host's `processed` in flight
        self.server_kills: list[dict[str, Any]] = []  # each hub or provider killed, when

    def snapshot(self, room: str) -> Snapshot:
        """The hub's group now, asked again while the hub restarts (bounded)."""
        import ray
        from ray.exceptions import RayActorError

        deadline = time.monotonic() + CHANGE_TIMEOUT_S
        while True:
            try:
                sequence, members = ray.get(self.deploy.hubs[room].members.remote(room), timeout=CHANGE_TIMEOUT_S)
                return Snapshot(sequence, frozenset(members))
            except RayActorError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def tick(self, now: float) -> None:
        """Does what is due `now` (seconds since sending started)."""
        while self.kills and self.kills[0].at <= now:
            kill = self.kills.popleft()
            if isinstance(kill, Kill):
                self._kill(kill.host, now)
            else:
                self._kill_server(kill, now)
        self._changes(now, [a for a in self.pending if a.at <= now])
        self._poll(now)

    def _changes(self, now: float, due: list[Add | Remove]) -> None:
        """Follows the changes in flight and starts those `due` whose committer and
        user are free (one change per committer and per user at a time)."""
        for flight in list(self.flights):
            self._follow_change(flight, now)
        for room in {f.action.room for f in self.flights}:
            self.snapshots[room].append(self.snapshot(room))
        busy = {f.committer for f in self.flights} | {(f.action.room, f.action.user) for f in self.flights}
        for action in due:
            committer = self._committer(action)
            if committer not in busy and (action.room, action.user) not in busy:
                self.pending.remove(action)
                busy |= {committer, (action.room, action.user)}
                self._start(action, now)

    def finish(self, deadline: float, origin: float) -> None:
        """Waits (until `deadline`, monotonic) for the changes in flight and those that
        lost a race (they go again when due); what was planned and not started by the end
        of sending is dropped. `origin`: when sending started."""
        def again() -> list[Add | Remove]:
            return [a for a in self.pending if _race(a) in self.retried]

        while (self.flights or again()) and time.monotonic() < deadline:
            time.sleep(0.05)
            now = time.monotonic() - origin
            self._changes(now, [a for a in again() if a.at <= now])
        for flight in list(self.flights):
            self._done(flight, "no answer by the end of the run")
        for action in self.pending:
            self.changes.append({"action": _describe(action), "outcome": "not started: sending ended"})
        self.pending.clear()
        self.kills.clear()

    def recover(self, deadline: float, origin: float) -> None:
        """Polls the killed hosts until each caught up or `deadline` (monotonic)."""
        while any(r.recovered is None for r in self.recoveries) and time.monotonic() < deadline:
            self._poll(time.monotonic() - origin)
            time.sleep(0.05)

    def audit(self, room: str) -> Audit:
        """What every device shows in `room` against the hub's log, once settled."""
        import ray

        snapshots = [*self.snapshots[room], self.snapshot(room)]
        log: list[Logged] = []
        hub = self.deploy.hubs[room]
        while page := ray.get(hub.events.remote(room, log[-1].sequence if log else 0, RoomHub.EVENTS_PAGE), timeout=60):
            for sequence, _, body in page:
                message = _core.FanoutMessage.decode(body)
                log.append(Logged(sequence, message.kind, message.timestamp))
        views = [view for host in self.hosted for view in ray.get(self.deploy.hosts[host].shown.remote(room), timeout=60)]
        return audit(log, snapshots, views)

    # -- kills -----------------------------------------------------------------------------

    def _kill(self, host: str, now: float) -> None:
        import ray

        targets = {room: self.snapshot(room).sequence for room in self.rooms}
        self.killed_ns.append(time.monotonic_ns())
        ray.kill(self.deploy.hosts[host], no_restart=False)
        self.recoveries.append(Recovery(host, round(now, 3), targets))

    def _kill_server(self, kill: KillServer, now: float) -> None:
        import ray

        handle = self.deploy.hubs[kill.name] if kill.role == "hub" else self.deploy.providers[kill.name]
        ray.kill(handle, no_restart=False)
        self.server_kills.append({"role": kill.role, "name": kill.name, "at_s": round(now, 3)})

    def _poll(self, now: float) -> None:
        """Asks each restarted host that has not caught up what its devices processed;
        only the restarted process's answer counts (it started after the kill)."""
        import ray
        from ray.exceptions import RayError

        for k, recovery in enumerate(self.recoveries):
            if recovery.recovered is not None:
                continue
            handle = self.deploy.hosts[recovery.host]
            reply = self.polls.get(k)
            if reply is None:
                self.polls[k] = handle.processed.options(concurrency_group=RECORD).remote(self.rooms)
                continue
            if not ray.wait([reply], timeout=0)[0]:
                continue
            del self.polls[k]
            try:
                started_ns, processed = ray.get(reply)
            except RayError:
                continue  # killed again meanwhile: ask the next process
            members = {room: self._members(room) & set(self.hosted[recovery.host]) for room in self.rooms}
            if started_ns > self.killed_ns[k] and recovery.caught_up(processed, members):
                recovery.recovered = round(now - recovery.at, 3)

    # -- adds and removes -------------------------------------------------------------------

    def _members(self, room: str) -> frozenset[str]:
        return self.snapshots[room][-1].members

    def _committer(self, action: Add | Remove) -> str:
        adder, remover = self.committers[action.room]
        return adder if isinstance(action, Add) else remover

    def _start(self, action: Add | Remove, now: float) -> None:
        committer = self._committer(action)
        host = self.deploy.host(committer)
        if isinstance(action, Add):
            if any(user_of(c) == action.user for c in self._members(action.room)):
                # A re-add whose removal lost a race and goes again: it waits for that removal
                # (bounded by the removal's own retries, so this wait is not one of its own).
                if self._planned(Remove, action):
                    self._wait(action, now)
                elif not self._again(action, now):
                    self.changes.append({"action": _describe(action), "outcome": "skipped: still a member"})
                return
            reply = host.add_users.remote(committer, action.room, [action.user])
        elif any(user_of(c) == action.user for c in self._members(action.room)):
            reply = host.remove_user.remote(committer, action.room, action.user)
        elif self._planned(Add, action):
            self._wait(action, now)  # the removal of a user whose add lost a race and goes again
            return
        else:
            self.changes.append({"action": _describe(action), "outcome": "skipped: not a member"})
            return
        self.raced += bool(self.flights)
        self.flights.append(_InFlight(action, committer, reply, now))

    def _wait(self, action: Add | Remove, now: float) -> None:
        """Plans `action` again RETRY_S from `now`, not as one of its retries: it waits
        for another change of its user, bounded by that change's retries."""
        self.retried.setdefault(_race(action), 0)  # `finish` waits for it as for a retry
        self.pending.append(replace(action, at=round(now + RETRY_S, 3)))

    def _planned(self, kind: type[Add | Remove], change: Add | Remove) -> bool:
        """The user of `change` has a change of `kind` in the room still to start or in
        flight (an add or removal that lost a race and goes again)."""
        def same(a: Add | Remove) -> bool:
            return isinstance(a, kind) and (a.room, a.user) == (change.room, change.user)

        return any(same(a) for a in self.pending) or any(same(f.action) for f in self.flights)

    def _follow_change(self, flight: _InFlight, now: float) -> None:
        import ray
        from ray.exceptions import RayActorError, RayError

        if not ray.wait([flight.reply], timeout=0)[0]:
            if now - flight.started > CHANGE_TIMEOUT_S:
                self._done(flight, f"no answer in {CHANGE_TIMEOUT_S:g} s")
            return
        if flight.outcome:  # the ping: the committer's host is back, whatever it resent is in
            action = flight.action
            taken = any(user_of(c) == action.user for c in self.snapshot(action.room).members) == isinstance(action, Add)
            if not taken and self._again(action, now):
                flight.outcome = "not taken: again"
            self._done(flight, flight.outcome)
            return
        try:
            code = str(ray.get(flight.reply)["code"])
        except RayActorError:
            # The committer's host or the hub died meanwhile: the hub may or may not
            # have taken it, the snapshot once the committer's host answers says.
            flight.outcome = "unknown: an actor died"
            flight.reply = self.deploy.host(flight.committer).ping.remote()
            return
        except RayError as err:
            self._done(flight, f"error: {type(err).__name__}: {str(err).splitlines()[-1][:200]}")
            return
        # On wrongEpoch the other committer's commit got in first.
        self._done(flight, "lost the race: again" if code == "wrongEpoch" and self._again(flight.action, now) else code)

    def _again(self, action: Add | Remove, now: float) -> bool:
        """Plans `action` again RETRY_S from `now` (its committer caught up by then),
        unless it was tried RETRIES times more already."""
        tries = self.retried.get(_race(action), 0)
        if tries >= RETRIES:
            return False
        self.retried[_race(action)] = tries + 1
        self.pending.append(replace(action, at=round(now + RETRY_S, 3)))
        return True

    def _done(self, flight: _InFlight, outcome: str) -> None:
        self.snapshots[flight.action.room].append(self.snapshot(flight.action.room))
        self.changes.append({"action": _describe(flight.action), "outcome": outcome})
        self.flights.remove(flight)


def _race(action: Add | Remove) -> str:
    """A change whatever its time: the key of `Injector.retried`."""
    return f"{type(action).__name__} {action.room} {action.user}"


def _describe(action: Add | Remove) -> str:
    return f"{type(action).__name__.lower()} {action.user} at {action.at:g} s"
