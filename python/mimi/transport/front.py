"""A provider's HTTPS front: the handlers of its `FederationServer`, each calling
this provider's own endpoints in its cluster (the RoomHubs of the rooms it hosts,
its ProviderServer) with the peer's certificate domain as the caller. The logic's
claim checks (caller against body) then hold with the certificate's identity.

Routing, beyond what the path says:
- `/update`, `/submitMessage`, `/groupInfo` and `hubSender` are for a room this
  provider hosts (its URI names this provider), else 404 with nothing called;
- `/keyMaterial/{targetUser}` goes to the hub when the request's room is hosted
  here (a member's provider asks through the hub), else to this provider as the
  target user's (a hub claims; `provider_refusal` checks that the room is the
  caller's);
- `/notify` goes to the ProviderServer, which takes it only from the room's hub.
Refusals travel as `mimi.transport.https.refusal` encodes them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from functools import partial
from typing import Any

from mimi import _core, ids
from mimi.errors import RemoteProtocolError
from mimi.federation import Call, Handler, Reply
from mimi.transport import Transport
from mimi.transport.https import DELIVERED, HUB_SENDER, REASON, NotHosted, notify_of, refusal
from mimi.transport.ray import RayDirectory, RayTransport


class ProviderFront:
    def __init__(self, provider: str, in_cluster: Callable[[str], Transport] | None = None) -> None:
        """`provider`: this provider's URI; `in_cluster(caller)`: its endpoints as
        `caller` sees them (default: `RayTransport` in the connected cluster)."""
        self.provider = provider
        directory = self.directory = None if in_cluster else RayDirectory()
        self.in_cluster = in_cluster or (lambda caller: RayTransport(caller, directory))
        self.callers: dict[str, Transport] = {}
        self.submits: dict[tuple[str, str], Coalesced] = {}

    def _as(self, peer: str) -> Transport:
        """This provider's endpoints called as `peer` (the certificate's domain)."""
        caller = self.callers.get(peer)
        if caller is None:
            caller = self.callers[peer] = self.in_cluster(ids.SCHEME + peer)
        return caller

    async def _hosted(self, room: str) -> str:
        """`room`, hosted here; its hub's handle looked up off the event loop (a Ray
        name lookup blocks, and a peer may name rooms that do not exist)."""
        if ids.provider_of(room) != self.provider:
            raise NotHosted(f"{room} is not hosted by {self.provider}")
        if self.directory is not None and not self.directory.knows_hub(room):
            await asyncio.to_thread(self.directory.hub, room)
        return room

    def handlers(self) -> dict[str, Handler]:
        endpoints: dict[str, Callable[[Call], Awaitable[Reply]]] = {
            "update": self.update, "submitMessage": self.submit_message, "groupInfo": self.group_info,
            "keyMaterial": self.key_material, "notify": self.notify, HUB_SENDER: self.hub_sender,
        }
        return {name: _refusing(handler) for name, handler in endpoints.items()}

    async def update(self, call: Call) -> Reply:
        room = await self._hosted(call.params["roomId"])
        return Reply(200, await _answer(self._as(call.peer).update(room, call.body)))

    async def submit_message(self, call: Call) -> Reply:
        room = await self._hosted(call.params["roomId"])
        submits = self.submits.get((call.peer, room))
        if submits is None:
            submits = self.submits[call.peer, room] = Coalesced(partial(self._as(call.peer).submit_messages, room))
        return Reply(200, await submits.call(call.body))

    async def group_info(self, call: Call) -> Reply:
        room = await self._hosted(call.params["roomId"])
        return Reply(200, await _answer(self._as(call.peer).group_info(room, call.body)))

    async def key_material(self, call: Call) -> Reply:
        request = _core.KeyMaterialRequest.decode(call.body)
        if request.target_user != call.params["targetUser"]:
            raise RemoteProtocolError(f"the path names {call.params['targetUser']}, the body {request.target_user}", "badRequest")
        caller = self._as(call.peer)
        if ids.provider_of(request.room_id) == self.provider:
            answer = await _answer(caller.key_material(request.room_id, call.body))
        else:
            answer = await _answer(caller.claim_key_material(self.provider, call.body))
        return Reply(200, answer.response, ((REASON, answer.reason),) if answer.reason else ())

    async def notify(self, call: Call) -> Reply:
        batch = notify_of(call.params["roomId"], call.headers, call.body)
        delivered = await _answer(self._as(call.peer).notify(self.provider, batch))
        return Reply(200, b"", ((DELIVERED, str(delivered)),))

    async def hub_sender(self, call: Call) -> Reply:
        room = await self._hosted(call.params["roomId"])
        key, identity = await _answer(self._as(call.peer).hub_sender(room))
        return Reply(200, _core.ExternalSender(key, identity).encode())


class Coalesced:
    """Concurrent `/submitMessage` requests of one peer for one room, handed to the
    room's hub together: while one hub call is in flight, the requests arriving
    queue, and go in the next call in their order of arrival (`RoomHub.submit_many`:
    validated in order, one durable commit). The per-call costs (a Ray call, the
    hub's lock and commit) are shared as the hub's own group commit shares them
    (`mimi.actors.group_commit`); alone, a request is its own batch and waits for
    nothing. A hub call refuses a whole batch or none of it (an unknown room, a
    failed commit): each request of a refused batch gets that refusal."""

    def __init__(self, send: Callable[[list[bytes]], Future[list[bytes]]]) -> None:
        self.send = send
        self.queue: list[tuple[bytes, asyncio.Future[bytes]]] = []
        self.sending: asyncio.Task[None] | None = None

    async def call(self, body: bytes) -> bytes:
        answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.queue.append((body, answer))
        if self.sending is None:
            self.sending = asyncio.create_task(self._send())
        return await answer

    async def _send(self) -> None:
        try:
            while self.queue:
                batch, self.queue = self.queue, []
                try:
                    answers = await _answer(self.send([body for body, _ in batch]))
                    if len(answers) != len(batch):
                        raise RuntimeError(f"{len(answers)} answers for {len(batch)} /submitMessage bodies")
                except Exception as err:
                    for _, answer in batch:
                        if not answer.done():  # its request may be gone (the connection closed)
                            answer.set_exception(err)
                    continue
                for (_, answer), response in zip(batch, answers):
                    if not answer.done():
                        answer.set_result(response)
        finally:
            self.sending = None


async def _answer(future: Future[Any]) -> Any:
    return await asyncio.wrap_future(future)


def _refusing(handler: Callable[[Call], Awaitable[Reply]]) -> Handler:
    """`handler`, with whatever it raises answered as a refusal the caller raises again."""

    async def answer(call: Call) -> Reply:
        try:
            return await handler(call)
        except Exception as err:
            return refusal(err)

    return answer
