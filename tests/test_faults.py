"""Fault injection (docs/guarantees.md, "Fault injection").

On Ray: numbered messages stream into a room across 3 providers while users are
added and removed (adds racing removes) and client hosts, the sender's included,
the room's hub and the providers are killed at moments drawn from a seed (Ray
restarts each from its SQLite files). Then every message the
hub acknowledged is shown exactly once, at its hub place, by every device that was
a member at its sequence (the sender's own view and the sender's other device
included), and the members agree on the epoch authenticator.

Without Ray: the plan (`faults.plan`) and the audit (`faults.audit`) themselves.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from mimi.loadtest import Config
from mimi.loadtest.faults import (
    Add,
    Change,
    Churn,
    DeviceView,
    Faults,
    Kill,
    KillServer,
    Logged,
    Recovery,
    Remove,
    Snapshot,
    audit,
    membership,
    merged,
    plan,
)
from mimi.loadtest.run import LoadRun

# -- the plan -----------------------------------------------------------------------------

HOSTS = ["senders", "fleet0", "fleet1", "fleet2"]
CHURN = [Churn("room", ("u2", "u3", "u4"), ("n0", "n1", "n2"))]


def test_faults_parse_and_refuse_what_they_do_not_know() -> None:
    assert Faults.parse("kill-hosts:7,seed:3") == Faults(kill_hosts=7, seed=3)
    assert Faults.parse("") == Faults()
    spec = "kill-hosts:2,kill-hub:6,kill-providers:7,adds:3,removes:4,readds:1,seed:5"
    assert str(Faults.parse(spec)) == spec
    assert Faults.parse(spec) == Faults(kill_hosts=2, kill_hub=6, kill_providers=7, adds=3, removes=4, readds=1, seed=5)
    for text, message in [("kill:2", "unknown fault 'kill:2'"), ("adds", "unknown fault 'adds'"),
                          ("adds:x", "adds: not a number: 'x'"), ("removes:-1", "removes must be >= 0"),
                          ("kill-hosts:1001", "kill-hosts must be >= 0 and <= 1000")]:
        with pytest.raises(ValueError, match=message):
            Faults.parse(text)


@pytest.mark.parametrize("seed", range(20))
def test_plan_kills_every_host_once_before_any_twice_the_senders_first_round(seed: int) -> None:
    for kills in (1, 2, 4, 9):
        actions = plan(Faults(kill_hosts=kills, adds=0, removes=0, seed=seed), 20.0, HOSTS, "senders", CHURN)
        victims = [a.host for a in actions if isinstance(a, Kill)]
        assert len(victims) == kills and "senders" in victims
        first_round = victims[: len(HOSTS)]
        assert len(set(first_round)) == len(first_round)
        assert all(2.0 <= a.at <= 16.0 for a in actions)
        assert [a.at for a in actions] == sorted(a.at for a in actions)


@pytest.mark.parametrize("seed", range(20))
def test_plan_removes_only_members_of_that_moment_never_twice(seed: int) -> None:
    actions = plan(Faults(kill_hosts=0, adds=2, removes=4, seed=seed), 30.0, HOSTS, "senders", CHURN)
    adds = [a for a in actions if isinstance(a, Add)]
    assert [a.user for a in adds] == ["n0", "n1"]
    assert {a.at for a in adds} <= {a.at for a in actions if isinstance(a, Remove)}  # each races a remove
    removed = []
    for action in actions:
        if isinstance(action, Remove):
            assert action.user in {"u2", "u3", "u4"} | {a.user for a in adds if a.at < action.at}
            removed.append(action.user)
    assert len(removed) == len(set(removed)) >= 3  # a 4th only if a newcomer came before it


@pytest.mark.parametrize("seed", range(20))
def test_plan_kills_every_hub_and_provider_once_before_any_twice(seed: int) -> None:
    providers = ["p0", "p1", "p2"]
    rooms = [CHURN[0], Churn("other", (), ())]
    for kills in (1, 3, 5):
        faults = Faults(kill_hosts=0, kill_hub=kills, kill_providers=kills, adds=0, removes=0, seed=seed)
        actions = plan(faults, 20.0, HOSTS, "senders", rooms, providers)
        for role, names in (("hub", ["room", "other"]), ("provider", providers)):
            victims = [a.name for a in actions if isinstance(a, KillServer) and a.role == role]
            assert len(victims) == kills and set(victims) <= set(names)
            assert len(set(victims[: len(names)])) == min(kills, len(names))
        assert all(2.0 <= a.at <= 16.0 for a in actions)
    # Server kills are drawn last: the rest of a seed's plan is as without them.
    faults = Faults(kill_hosts=3, adds=2, removes=2, seed=seed)
    with_servers = plan(replace(faults, kill_hub=2, kill_providers=2), 20.0, HOSTS, "senders", rooms, providers)
    assert [a for a in with_servers if not isinstance(a, KillServer)] == plan(faults, 20.0, HOSTS, "senders", rooms)


@pytest.mark.parametrize("seed", range(20))
def test_plan_adds_back_only_users_removed_before_each_once(seed: int) -> None:
    faults = Faults(kill_hosts=0, adds=1, removes=3, readds=2, seed=seed)
    assert Faults.parse(str(faults)) == faults and str(faults).endswith(f",readds:2,seed:{seed}")
    actions = plan(faults, 30.0, HOSTS, "senders", CHURN)
    removals = {a.user: a for a in actions if isinstance(a, Remove)}
    back = [a for a in actions if isinstance(a, Add) and a.user in removals and removals[a.user].at <= a.at]
    assert len(back) == 2 and len({a.user for a in back}) == 2
    assert all(actions.index(removals[a.user]) < actions.index(a) and a.at <= 24.0 for a in back)
    # Without re-adds, the same plan.
    assert plan(replace(faults, readds=0), 30.0, HOSTS, "senders", CHURN) == [a for a in actions if a not in back]


def test_plan_is_the_seeds() -> None:
    faults = Faults(kill_hosts=5, adds=2, removes=2, seed=11)
    assert plan(faults, 20.0, HOSTS, "senders", CHURN) == plan(faults, 20.0, HOSTS, "senders", CHURN)
    assert plan(faults, 20.0, HOSTS, "senders", CHURN) != plan(replace(faults, seed=12), 20.0, HOSTS, "senders", CHURN)


# -- the audit ----------------------------------------------------------------------------
# A room: a, b members from sequence 10; commit 13 adds c; commit 16 removes b.
# Application messages at 11, 12 (a and b), 14, 15 (a, b, c), 17 (a, c).

LOG = [Logged(11, "application", 1011), Logged(12, "application", 1012), Logged(13, "commit", 1013),
       Logged(14, "welcome", 1014), Logged(15, "application", 1015), Logged(16, "application", 1016),
       Logged(17, "commit", 1017), Logged(18, "application", 1018)]
SNAPSHOTS = [Snapshot(10, frozenset("ab")), Snapshot(14, frozenset("abc")), Snapshot(17, frozenset("ac"))]
SHOWN = {11: ("a", 0), 12: ("b", 0), 15: ("a", 1), 16: ("b", 1), 18: ("a", 2)}


def view(client: str, sequences: list[int], member: bool = True, epoch: str | None = "e2") -> DeviceView:
    return DeviceView(client, member, epoch, tuple((1000 + q, *SHOWN[q]) for q in sequences))


def complete() -> list[DeviceView]:
    return [view("a", [11, 12, 15, 16, 18]), view("b", [11, 12, 15, 16], member=False, epoch="e1"),
            view("c", [15, 16, 18])]


def test_membership_changes_at_the_commit_between_two_snapshots() -> None:
    assert membership(LOG, SNAPSHOTS) == [Change(13, 13, frozenset("ab"), frozenset("abc")),
                                          Change(17, 17, frozenset("abc"), frozenset("ac"))]
    with pytest.raises(ValueError, match="with no commit there"):
        membership(LOG, [Snapshot(10, frozenset("ab")), Snapshot(12, frozenset("abc"))])


def test_between_two_commits_of_one_change_only_the_certain_members_count() -> None:
    # A change resent late met the next: commits 13 and 17 between two snapshots.
    # b shows 15 and 16 (owed if 17 removed it), c shows 18 only (owed 15 and 16 if 13 added it).
    snapshots = [Snapshot(10, frozenset("ab")), Snapshot(18, frozenset("ac"))]
    assert membership(LOG, snapshots) == [Change(13, 17, frozenset("ab"), frozenset("ac"))]
    a, b, c = complete()
    got = audit(LOG, snapshots, [a, b, replace(c, messages=c.messages[2:])])
    assert got.clean and (got.expected, got.shown) == (4 + 2 + 2, 8)  # 11, 12 to a, b; 15, 16 to a; 18 to a, c
    got = audit(LOG, snapshots, [a, b, replace(c, messages=())])
    assert got.lost_at == {"c": [18]}


def test_a_complete_room_passes() -> None:
    got = audit(LOG, SNAPSHOTS, complete())
    assert (got.acknowledged, got.expected, got.shown, got.changes) == (5, 12, 12, 2)
    assert got.clean and got.to_json()["clean"]


def test_lost_duplicated_unexpected_and_misplaced_are_each_found() -> None:
    a, b, c = complete()
    lossy = replace(c, messages=c.messages[1:])  # c misses 15
    doubled = replace(a, messages=(*a.messages, (1020, "a", 1)))  # a shows ("a", 1) twice, once at no message
    early = replace(b, messages=(*b.messages, (1018, "a", 2)))  # b shows 18, after its removal
    got = audit(LOG, SNAPSHOTS, [doubled, early, lossy])
    assert (got.lost, got.duplicated, got.unexpected, got.misplaced) == (1, 1, 1, 1)
    assert got.lost_at == {"c": [15]} and not got.clean


def test_another_identity_at_a_timestamp_is_misplaced_and_its_message_lost() -> None:
    a, b, c = complete()
    wrong = replace(c, messages=((1015, "b", 9), *c.messages[1:]))
    got = audit(LOG, SNAPSHOTS, [a, b, wrong])
    assert (got.misplaced, got.lost, got.lost_at) == (1, 1, {"c": [15]})


def test_a_message_nobody_shows_is_lost_everywhere_and_unseen() -> None:
    views = [replace(v, messages=tuple(m for m in v.messages if m[0] != 1015)) for v in complete()]
    got = audit(LOG, SNAPSHOTS, views)
    assert (got.lost, got.unseen) == (3, [15])


def test_a_user_removed_and_added_again_is_owed_before_and_after_not_between() -> None:
    # b, removed by commit 17, is added again by commit 19 (its Welcome at 20); 21 is for a, b and c.
    log = [*LOG, Logged(19, "commit", 1019), Logged(20, "welcome", 1020), Logged(21, "application", 1021)]
    snapshots = [*SNAPSHOTS, Snapshot(20, frozenset("abc"))]
    shown = {**SHOWN, 21: ("c", 0)}

    def back(client: str, sequences: list[int]) -> DeviceView:
        return DeviceView(client, True, "e3", tuple((1000 + q, *shown[q]) for q in sequences))

    a, b, c = back("a", [11, 12, 15, 16, 18, 21]), back("b", [11, 12, 15, 16, 21]), back("c", [15, 16, 18, 21])
    got = audit(log, snapshots, [a, b, c])
    assert got.clean and (got.expected, got.changes) == (6 + 5 + 4, 3)
    got = audit(log, snapshots, [a, back("b", [11, 12, 15, 16, 18, 21]), c])  # shows what came while it was out
    assert (got.unexpected, got.lost) == (1, 0)
    got = audit(log, snapshots, [a, back("b", [11, 12, 15, 16]), c])  # never took its new Welcome
    assert got.lost_at == {"b": [21]}
    assert audit(log, snapshots, [a, replace(b, member=False), c]).disagreeing == ["b"]


def test_members_must_agree_and_the_removed_know_it() -> None:
    a, b, c = complete()
    assert audit(LOG, SNAPSHOTS, [a, b, replace(c, epoch_authenticator="e1")]).disagreeing == ["a", "c"]
    assert audit(LOG, SNAPSHOTS, [a, replace(b, member=True), c]).disagreeing == ["b"]
    assert audit(LOG, SNAPSHOTS, [a, b]).disagreeing == ["c"]


def test_audits_of_rooms_merge() -> None:
    one = audit(LOG, SNAPSHOTS, complete())
    a, b, c = complete()
    two = audit(LOG, SNAPSHOTS, [a, b, replace(c, messages=())])
    got = merged([one, two])
    assert (got.expected, got.lost, got.agree, got.lost_at) == (24, 3, True, {"c": [15, 16, 18]})


def test_recovery_needs_every_member_device_of_the_host_caught_up() -> None:
    recovery = Recovery("fleet0", 3.0, {"room": 40})
    members = {"room": frozenset({"x", "y"})}
    assert not recovery.caught_up({"room": {"x": 40, "y": 39}}, members)
    assert not recovery.caught_up({"room": {"x": 41}}, members)
    assert recovery.caught_up({"room": {"x": 40, "y": 44, "z": 1}}, members)
    assert recovery.caught_up({}, {"room": frozenset()})


# -- on Ray ---------------------------------------------------------------------------------

SEEDS = (1, 2, 3)
# 4 client hosts: each killed, two of them twice; one removed user added again.
FAULTS = Faults(kill_hosts=6, adds=2, removes=2, readds=1)
MEMBERS, RATE, DURATION = 6, 15.0, 20.0


@pytest.fixture(scope="module")
def load(ray_cluster: Any, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    run = LoadRun(Config(providers=3, fleets=3, drain=60.0), str(tmp_path_factory.mktemp("faults")))
    run.start()
    yield run
    run.shutdown()


OUTCOMES = ("success", "unknown: an actor died", "lost the race: again", "not taken: again")


def faulted(load: LoadRun, label: str, faults: Faults) -> tuple[dict[str, Any], str]:
    """Runs a phase under `faults` and checks the contract: nothing acknowledged lost,
    duplicated, unexpected or misplaced, the members agree, every killed host caught
    up, every change got an answer; returns the fault report (and it as text)."""
    phase = load.phase(label, 1, MEMBERS, RATE, DURATION, faults)
    report = phase.summary.extra["faults"]
    found = report["audit"]
    detail = json.dumps(report, indent=1)
    # The run did what it says: users added and removed while messages streamed.
    assert found["acknowledged"] >= RATE * DURATION / 2 and found["changes"] >= 2, detail
    assert report["settled"], detail
    assert (found["lost"], found["duplicated"], found["unexpected"], found["misplaced"]) == (0, 0, 0, 0), detail
    assert found["agree"], detail
    assert report["recovery_s"]["unrecovered"] == 0, detail
    assert all(c["outcome"] in OUTCOMES for c in report["changes"]), detail
    assert phase.summary.complete
    return report, detail


@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_acknowledged_is_lost_or_duplicated_under_faults(load: LoadRun, seed: int) -> None:
    report, detail = faulted(load, f"faults{seed}", replace(FAULTS, seed=seed))
    # Every client host killed and restarted, the sender's too.
    assert len(report["kills"]) == FAULTS.kill_hosts and len({k["host"] for k in report["kills"]}) == 4, detail
    # A removed user added back after its removal.
    changes = [c["action"].split()[:2] for c in report["changes"]]
    assert any(["add", user] in changes[k:] for k, (kind, user) in enumerate(changes) if kind == "remove"), detail


# The hub (twice) and each provider (the followers) killed mid-stream, a client host
# twice, while an add and a remove commit from two devices race each other.
SERVER_SEEDS = (4,)
SERVER_FAULTS = Faults(kill_hosts=2, kill_hub=2, kill_providers=3, adds=2, removes=2)


@pytest.mark.parametrize("seed", SERVER_SEEDS)
def test_nothing_acknowledged_is_lost_or_duplicated_when_hub_and_followers_die(load: LoadRun, seed: int) -> None:
    report, detail = faulted(load, f"servers{seed}", replace(SERVER_FAULTS, seed=seed))
    killed = [(k["role"], k["name"]) for k in report["server_kills"]]
    assert [role for role, _ in killed].count("hub") == 2, detail
    assert {name for role, name in killed if role == "provider"} == set(load.provider_uris), detail
    assert report["raced"] >= 1, detail


def test_without_faults_a_run_is_clean_and_owes_the_sender_its_own_view_and_laptop(load: LoadRun) -> None:
    # The control: no kill, no change. The sender's phone (its own view) and laptop
    # are owed every message, as are the 2 other members.
    phase = load.phase("control", 1, 3, 10.0, 3.0, Faults(kill_hosts=0, adds=0, removes=0))
    found = phase.summary.extra["faults"]["audit"]
    assert found["expected"] == 4 * found["acknowledged"] and found["acknowledged"] >= 20, found
    assert found["clean"], found
