"""The provider boundary (docs/guarantees.md, "Callers"): clients, load generators,
benches and the demo reach a room's hub only through their provider's transport.
Only `mimi.transport` resolves a hub's actor name; outside it, nothing calls a hub
endpoint on a handle to a hub actor. Read from the source with `ast` (nothing is
imported). `netsim.Cluster.handle` checks the same at run time: every test of
ClientHost without Ray fails if a client looks a hub up by name."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "python" / "mimi"
# Where a device, load generator, bench or the demo runs.
OUTSIDE = [
    PACKAGE / "actors" / "client.py",
    PACKAGE / "demo.py",
    *sorted((PACKAGE / "loadtest").glob("*.py")),
    *sorted((REPO / "benches").rglob("*.py")),
]
# RoomHub's endpoints: a call of one on a hub handle is a MIMI call past the transport.
HUB_ENDPOINTS = {"update", "submit", "submit_many", "group_info", "key_material", "reserve", "create_room", "hub_sender"}


def _is_hub_name(node: ast.AST) -> bool:
    """`names.hub(...)`: a hub's actor name."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "hub"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "names"
    )


def _is_hub_handle(node: ast.AST, handles: set[str]) -> bool:
    """A RoomHub actor handle: `x.hubs[...]`, `x.room_hub(...)`, a call on a hub's
    name (`names.handle(names.hub(...))`), or a name bound to one of these."""
    if isinstance(node, ast.Subscript):
        return isinstance(node.value, ast.Attribute) and node.value.attr == "hubs"
    if isinstance(node, ast.Call):
        room_hub = isinstance(node.func, ast.Attribute) and node.func.attr == "room_hub"
        return room_hub or any(_is_hub_name(a) for a in node.args)
    return isinstance(node, ast.Name) and node.id in handles


def violations(path: Path, root: Path = REPO) -> Iterator[str]:
    tree = ast.parse(path.read_text(), str(path))
    handles: set[str] = set()
    for node in ast.walk(tree):  # names bound to hub handles, anywhere in the file
        if isinstance(node, ast.Assign) and _is_hub_handle(node.value, handles):
            handles |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if _is_hub_name(node):
            yield f"{where}: resolves a hub's actor name"
        if isinstance(node, ast.Attribute) and node.attr == "call_hub":
            yield f"{where}: calls a hub by name"
        # hub.<endpoint>.remote(...)
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "remote"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr in HUB_ENDPOINTS
            and _is_hub_handle(node.value.value, handles)
        ):
            yield f"{where}: calls the hub endpoint {node.value.attr} on a hub actor"


def test_only_the_transport_reaches_hubs() -> None:
    found = [v for path in OUTSIDE for v in violations(path)]
    assert found == []


def test_only_the_transport_and_the_deployment_resolve_hub_names() -> None:
    allowed = {PACKAGE / "transport" / "ray.py", PACKAGE / "transport" / "names.py", PACKAGE / "actors" / "deploy.py"}
    found = [v for path in sorted(PACKAGE.rglob("*.py")) if path not in allowed for v in violations(path)]
    assert found == []


def test_the_check_finds_each_way_past_the_transport(tmp_path: Path) -> None:
    bypass = tmp_path / "bypass.py"
    bypass.write_text(
        "hub = names.handle(names.hub(room))\n"
        "hub.update.remote(room, provider, body, now)\n"
        "d.hubs[room].submit_many.remote(room, provider, bodies, now)\n"
        "d.room_hub(room, h).key_material.remote(room, provider, body)\n"
        "names.call_hub(room, 'group_info', provider, body)\n"
        "transport.update(room, body)\n"  # the way through
    )
    assert sorted(violations(bypass, tmp_path)) == [
        "bypass.py:1: resolves a hub's actor name",
        "bypass.py:2: calls the hub endpoint update on a hub actor",
        "bypass.py:3: calls the hub endpoint submit_many on a hub actor",
        "bypass.py:4: calls the hub endpoint key_material on a hub actor",
        "bypass.py:5: calls a hub by name",
    ]
