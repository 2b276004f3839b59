"""`mimi demo` (what `make demo` runs): the seed's room on a local Ray, end to end,
its providers federated over HTTPS with mutual TLS (the default) or in-cluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mimi.cli import main


@pytest.mark.parametrize("transport", [None, "ray"])
def test_demo_on_ray(ray_cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], transport: str | None) -> None:  # type: ignore[no-untyped-def]
    assert main(["demo", "--json", "--data-dir", str(tmp_path), *(["--transport", transport] if transport else [])]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["transport"] == (transport or "https")
    assert summary["agree"] is True
    assert summary["plaintext_on_servers"] == {}
    clients = summary["clients"]
    remaining = {n: c for n, c in clients.items() if c["member"]}
    assert sorted(remaining) == ["A", "A2", "C", "D", "E"]
    assert {c["epoch"] for c in remaining.values()} == {4}
    assert len({c["epoch_authenticator"] for c in remaining.values()}) == 1
    assert remaining["A"]["participants"] == [
        "mimi://x.example/u/alice", "mimi://y.example", "mimi://y.example/u/charlie", "mimi://z.example/u/diana",
    ]
    texts = [m["text"] for m in remaining["E"]["messages"]]
    assert texts == ["Hi everyone!", "Hello Alice, welcome!", "Bob is gone; hi from my laptop"]  # edited; deleted gone
    assert remaining["E"]["messages"][0]["reactions"] == 1
    assert "Bob is gone; hi from my laptop" not in [m["text"] for m in clients["B"]["messages"]]
    assert not clients["B"]["member"] and not clients["F"]["member"]
    # The closing burst reached every remaining member, decrypted.
    assert {c["burst_messages"] for c in remaining.values()} == {summary["fanout"]["messages"]} == {100}
    assert summary["fanout"]["deliveries"] == 100 * 5
    # Every server wrote its database under the data directory; no message plaintext in any of them.
    for provider, server in summary["servers"].items():
        for db in server["databases"]:
            assert Path(db).is_file() and Path(db).is_relative_to(tmp_path), (provider, db)


def test_bad_arguments_get_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "mimi.cli", "demo", "--preset", "nope"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice: 'nope'" in out.stderr


def test_the_providers_of_the_https_demo_reach_each_other_through_their_fronts(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Each front served requests from the others (y.example: the hub's endpoints from x and z;
    # x and z: /notify and /keyMaterial from y) over a few kept-alive connections.
    from mimi.demo import RayDemo

    run = RayDemo(str(tmp_path), burst=0)
    try:
        run.run()
        assert run.summary()["agree"] is True
        assert run.federation is not None
        served = run.federation.requests()
    finally:
        run.close()
    assert set(served) == {"x.example", "y.example", "z.example"}
    for domain, (connections, requests) in served.items():
        assert 0 < connections < requests, domain
