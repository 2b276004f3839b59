"""MLS handshakes as room-policy input, and room-policy semantics for AppDataUpdate.

The hub and every client use these two functions, so they reach the same decision
and the same app_data_dictionary from the same MLS facts
(draft-ietf-mimi-protocol §Relation between MIMI state and cryptographic state).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from mimi import _core
from mimi.room import Actor, AddClient, AppDataUpdate, AppDataUpdateOperation, ProposedChange, RemoveClient, RoomState

Resolver = Callable[[Mapping[int, bytes], Sequence[tuple[int, bytes | None]]], dict[int, bytes | None]]


def _app_data_update(component_id: int, update: bytes | None, sender: Actor | None) -> AppDataUpdate:
    if update is None:
        return AppDataUpdate(component_id, AppDataUpdateOperation.remove, b"", sender)
    return AppDataUpdate(component_id, AppDataUpdateOperation.update, update, sender)


def app_data_resolver(members: Sequence[str] = ()) -> Resolver:
    """The `resolve` callable for mimi._core: the room components' update semantics
    (participant list deltas, replaced policy components) applied to the old values."""

    def resolve(old: Mapping[int, bytes], proposals: Sequence[tuple[int, bytes | None]]) -> dict[int, bytes | None]:
        change = ProposedChange(tuple(_app_data_update(c, u, None) for c, u in proposals))
        new = RoomState.from_app_data(old, members).apply(change).to_app_data()
        return {c: new.get(c) for c, _ in proposals}

    return resolve


def proposed_change(processed: _core.Processed) -> ProposedChange:
    """The policy's view of a processed commit: the clients it adds and removes,
    its AppDataUpdates and an external joiner. Every proposal is judged as the
    committer's (sender None); a by-reference proposal's own sender is not yet
    carried by `Processed`."""
    proposals: list[AddClient | RemoveClient | AppDataUpdate] = []
    proposals += [AddClient(a.identity) for a in processed.added]
    proposals += [RemoveClient(r.identity) for r in processed.removed]
    proposals += [_app_data_update(c, u, None) for c, u in processed.app_data]
    joiner = processed.external_join[0] if processed.external_join is not None else None
    return ProposedChange(tuple(proposals), is_commit=processed.kind == "commit", external_joiner=joiner)
