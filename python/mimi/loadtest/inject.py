"""The faults of a `faults.plan`, injected into a running load phase on Ray.

Kills a client host (`ray.kill(..., no_restart=False)`: Ray restarts it from its
SQLite files), adds and removes users through each room's admin device, one change
at a time with a snapshot of the hub's group after each (`faults.membership`), and
times each killed host until it caught up (`faults.Recovery`). `tick` does what is
due and never blocks longer than a call to a hub: the caller keeps sending.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from mimi import _core
from mimi.actors.deploy import Deployment
from mimi.ids import user_of
from mimi.loadtest.faults import Action, Add, Audit, Kill, Logged, Recovery, Remove, Snapshot, audit
from mimi.loadtest.fleet import RECORD

CHANGE_TIMEOUT_S = 60.0  # an add or remove, or its admin's host coming back


@dataclass
class _InFlight:
    action: Add | Remove
    reply: Any  # the admin's call, then (if its host died) a ping of the restarted host
    started: float
    outcome: str = ""


class Injector:
    def __init__(self, deploy: Deployment, plan: list[Action], admins: dict[str, str], hosted: dict[str, list[str]]) -> None:
        self.deploy = deploy
        self.admins = admins  # room -> the device that adds and removes
        self.rooms = list(admins)
        self.hosted = hosted  # host -> its devices
        self.kills = deque(a for a in plan if isinstance(a, Kill))
        self.pending = deque(a for a in plan if not isinstance(a, Kill))
        self.change: _InFlight | None = None
        self.changes: list[dict[str, Any]] = []  # each add or remove and what it got
        self.snapshots = {room: [self.snapshot(room)] for room in self.rooms}
        self.recoveries: list[Recovery] = []
        self.killed_ns: list[int] = []  # per recovery: when (CLOCK_MONOTONIC) its host was killed
        self.polls: dict[int, Any] = {}  # recovery -> the restarted host's `processed` in flight

    def snapshot(self, room: str) -> Snapshot:
        import ray

        sequence, members = ray.get(self.deploy.hubs[room].members.remote(room), timeout=60)
        return Snapshot(sequence, frozenset(members))

    def tick(self, now: float) -> None:
        """Does what is due `now` (seconds since sending started)."""
        while self.kills and self.kills[0].at <= now:
            self._kill(self.kills.popleft().host, now)
        self._follow_change(now)
        if self.change is None and self.pending and self.pending[0].at <= now:
            self._start(self.pending.popleft(), now)
        self._poll(now)

    def finish(self, deadline: float, origin: float) -> None:
        """Waits (until `deadline`, monotonic) for the change in flight; what was not
        started by the end of sending is dropped. `origin`: when sending started."""
        while self.change is not None and time.monotonic() < deadline:
            time.sleep(0.05)
            self._follow_change(time.monotonic() - origin)
        if self.change is not None:
            self._done(self.change, "no answer by the end of the run")
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
        log = []
        for sequence, _, body in ray.get(self.deploy.hubs[room].events.remote(room, 0, 10_000_000), timeout=60):
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

    def _start(self, action: Add | Remove, now: float) -> None:
        admin = self.admins[action.room]
        host = self.deploy.host(admin)
        if isinstance(action, Add):
            reply = host.add_users.remote(admin, action.room, [action.user])
        elif any(user_of(c) == action.user for c in self._members(action.room)):
            reply = host.remove_user.remote(admin, action.room, action.user)
        else:
            self.changes.append({"action": _describe(action), "outcome": "skipped: not a member"})
            return
        self.change = _InFlight(action, reply, now)

    def _follow_change(self, now: float) -> None:
        import ray
        from ray.exceptions import RayActorError, RayError

        change = self.change
        if change is None:
            return
        if not ray.wait([change.reply], timeout=0)[0]:
            if now - change.started > CHANGE_TIMEOUT_S:
                self._done(change, f"no answer in {CHANGE_TIMEOUT_S:g} s")
            return
        if change.outcome:  # the ping: the admin's host is back, whatever it resent is in
            self._done(change, change.outcome)
            return
        try:
            self._done(change, str(ray.get(change.reply)["code"]))
        except RayActorError:
            # The hub may or may not have taken it: the snapshot after the restart says.
            change.outcome = "unknown: the admin's host died"
            change.reply = self.deploy.host(self.admins[change.action.room]).ping.remote()
        except RayError as err:
            self._done(change, f"error: {type(err).__name__}: {str(err).splitlines()[-1][:200]}")

    def _done(self, change: _InFlight, outcome: str) -> None:
        self.snapshots[change.action.room].append(self.snapshot(change.action.room))
        self.changes.append({"action": _describe(change.action), "outcome": outcome})
        self.change = None


def _describe(action: Add | Remove) -> str:
    return f"{type(action).__name__.lower()} {action.user} at {action.at:g} s"
