"""RoomState: participant list update order, app_data_dictionary round trip, AppDataUpdate rules."""

from __future__ import annotations

import pytest

from mimi.components import (
    BaseRoomPolicy,
    ComponentId,
    JoinLinks,
    JoinLinksUpdate,
    ParticipantListData,
    ParticipantListUpdate,
    RoomMetaData,
    UserindexRolePair,
    UserRolePair,
)
from mimi.errors import DecodeError, PolicyError
from mimi.policy.authorize import policy_problem
from mimi.policy.presets import PRESETS, cooperative
from mimi.room import AddClient, AppDataUpdate, AppDataUpdateOperation, ProposedChange, RemoveClient, RoomState

A, B, C, D, E = (f"mimi://a.example/u/{n}" for n in ("alice", "bob", "cathy", "diana", "eve"))
LIST = ParticipantListData((UserRolePair(A, 4), UserRolePair(B, 2), UserRolePair(C, 3)))


def upd(changed=(), removed=(), added=()) -> ParticipantListUpdate:  # type: ignore[no-untyped-def]
    return ParticipantListUpdate(
        tuple(UserindexRolePair(i, r) for i, r in changed), tuple(removed), tuple(UserRolePair(u, r) for u, r in added)
    )


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        # draft-ietf-mimi-protocol §Participant List: role changes, then removals by index, then additions
        (upd(changed=((2, 2),), removed=(0,), added=((D, 3),)), ((B, 2), (C, 2), (D, 3))),
        (upd(removed=(2, 0)), ((B, 2),)),
        (upd(added=((D, 2), (E, 1))), ((A, 4), (B, 2), (C, 3), (D, 2), (E, 1))),
        (upd(changed=((0, 3), (1, 4))), ((A, 3), (B, 4), (C, 3))),
        (upd(), ((A, 4), (B, 2), (C, 3))),
    ],
)
def test_participant_list_update_order(update: ParticipantListUpdate, expected: tuple[tuple[str, int], ...]) -> None:
    assert LIST.apply(update) == ParticipantListData(tuple(UserRolePair(u, r) for u, r in expected))


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (upd(changed=((3, 2),)), "user_index 3 out of range"),
        (upd(removed=(5,)), "index 5 out of range"),
        (upd(changed=((1, 3),), removed=(1,)), "more than once"),
        (upd(changed=((1, 3), (1, 4))), "more than once"),
        (upd(removed=(1, 1)), "more than once"),
        (upd(added=((A, 2),)), "already in the participant list"),
        (upd(removed=(0,), added=((A, 2),)), "already in the participant list"),
        (upd(added=((D, 2), (D, 3))), "already in the participant list"),
        (upd(added=((D, 0),)), "role_index 0"),
    ],
)
def test_participant_list_update_errors(update: ParticipantListUpdate, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        LIST.apply(update)


def test_app_data_round_trip() -> None:
    state = cooperative().new_room(A, "mimi://a.example/r/club", "Club", hub="mimi://a.example")
    again = RoomState.from_app_data(state.to_app_data(), state.members)
    assert again == state
    assert list(state.to_app_data()) == sorted(state.to_app_data())
    assert state.role_of(A) == 4 and state.role_of("mimi://a.example") == 5


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ({0x9999: b""}, "unknown component"),
        ({ComponentId.participant_list: b"\x01"}, "truncated"),
        ({ComponentId.base_room_policy: b"\x02"}, "bool must be 0 or 1"),
        ({ComponentId.logging_policy: b"\x07"}, "unknown Optionality"),
    ],
)
def test_from_app_data_is_strict(components: dict[int, bytes], message: str) -> None:
    with pytest.raises(DecodeError, match=message):
        RoomState.from_app_data(components)


STATE = RoomState.create(LIST, cooperative().roles, BaseRoomPolicy(), members=("mimi://a.example/d/alice/1",))
UPDATE, REMOVE = AppDataUpdateOperation.update, AppDataUpdateOperation.remove


def test_apply_moves_members_and_components() -> None:
    meta = RoomMetaData("mimi://a.example/r/club", "Club")
    change = ProposedChange(
        (
            AppDataUpdate(ComponentId.participant_list, UPDATE, upd(removed=(0,)).encode()),
            AppDataUpdate(ComponentId.participant_list, UPDATE, upd(added=((A, 2),)).encode()),
            AppDataUpdate(ComponentId.room_metadata, UPDATE, meta.encode()),
            AppDataUpdate(ComponentId.join_links, UPDATE, JoinLinksUpdate((), (b"x", b"y")).encode()),
            RemoveClient("mimi://a.example/d/alice/1"),
            AddClient("mimi://a.example/d/bob/1"),
        ),
        is_commit=True,
        external_joiner="mimi://a.example/d/cathy/1",
    )
    after = STATE.apply(change)
    assert after.participants.participants == (UserRolePair(B, 2), UserRolePair(C, 3), UserRolePair(A, 2))
    assert after.metadata == meta
    assert JoinLinks.decode(after.to_app_data()[ComponentId.join_links]) == JoinLinks((b"x", b"y"))
    assert after.members == ("mimi://a.example/d/bob/1", "mimi://a.example/d/cathy/1")
    assert STATE.members == ("mimi://a.example/d/alice/1",)  # pure: the old state is unchanged
    removed = after.apply(ProposedChange((AppDataUpdate(ComponentId.room_metadata, REMOVE),)))
    assert removed.metadata is None and ComponentId.room_metadata not in removed.to_app_data()


@pytest.mark.parametrize(
    ("proposals", "message"),
    [
        ((AppDataUpdate(ComponentId.room_metadata, REMOVE),), "has no state"),
        ((AppDataUpdate(ComponentId.roles_list, REMOVE),), "cannot be removed"),
        ((AppDataUpdate(ComponentId.preauth_list, REMOVE), AppDataUpdate(ComponentId.preauth_list, REMOVE)),
         "a single remove or only updates"),
        ((AppDataUpdate(ComponentId.join_links, UPDATE, JoinLinksUpdate((0,)).encode()),), "out of range"),
        ((RemoveClient("mimi://a.example/d/bob/1"),), "not in the group"),
        ((AddClient("mimi://a.example/d/alice/1"),), "already in the group"),
        ((AppDataUpdate(ComponentId.frank_aad, UPDATE, b""),), "unknown component"),
    ],
)
def test_apply_rejects(proposals: tuple[object, ...], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        STATE.apply(ProposedChange(proposals))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_are_coherent_and_round_trip(name: str) -> None:
    preset = PRESETS[name]
    state = preset.new_room(A, "mimi://a.example/r/x", hub="mimi://a.example")
    assert policy_problem(state) is None
    assert type(preset.roles).decode(preset.roles.encode()) == preset.roles
    assert preset.roles.banned_role_exists()
    enforcer = preset.roles.role(preset.enforcer_role)
    assert enforcer is not None and enforcer.role_name == "policy_enforcer"
    assert (enforcer.minimum_participants_constraint, enforcer.maximum_participants_constraint) == (1, 2)
    assert enforcer.maximum_active_participants_constraint == 0
