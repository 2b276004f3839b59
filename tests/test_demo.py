"""`mimi demo` (what `make demo` runs): the seed's room with real MLS, policy and content."""

from __future__ import annotations

import json
import subprocess
import sys


def test_demo_json_summary() -> None:
    out = subprocess.run([sys.executable, "-m", "mimi.cli", "demo", "--json"], check=True, capture_output=True, text=True)
    summary = json.loads(out.stdout)
    assert summary["agree"] is True
    clients = summary["clients"]
    remaining = {n: c for n, c in clients.items() if c["active"]}
    assert sorted(remaining) == ["A", "A2", "C", "D", "E"]
    assert {c["epoch"] for c in remaining.values()} == {summary["hub"]["epoch"]} == {4}
    assert len({c["epoch_authenticator"] for c in remaining.values()}) == 1
    assert remaining["A"]["participants"] == [
        "mimi://x.example/u/alice", "mimi://y.example", "mimi://y.example/u/charlie", "mimi://z.example/u/diana",
    ]
    texts = [m["text"] for m in remaining["E"]["messages"]]
    assert texts == ["Hi everyone!", "Hello Alice, welcome!", "Bob is gone; hi from my laptop"]  # edited, deleted gone
    assert remaining["E"]["messages"][0]["reactions"] == 1
    # Removed clients never see what was sent after their removal.
    assert "Bob is gone; hi from my laptop" not in [m["text"] for m in clients["B"]["messages"]]
    assert not clients["B"]["active"] and not clients["F"]["active"]


def test_demo_transcript_shows_the_refusal() -> None:
    out = subprocess.run([sys.executable, "-m", "mimi.cli", "demo"], check=True, capture_output=True, text=True)
    assert "hub refuses B's commit: notAllowed" in out.stdout
    assert out.stdout.rstrip().endswith("True")


def test_bad_arguments_get_a_clear_error() -> None:
    out = subprocess.run([sys.executable, "-m", "mimi.cli", "demo", "--preset", "nope"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "invalid choice: 'nope'" in out.stderr
