"""`mimi loadtest`: the statistics (no Ray), the options' errors, and one small
run on the shared Ray cluster that every member decrypts exactly once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mimi.cli import main
from mimi.loadtest import Config, report
from mimi.loadtest.pacing import Schedule, load_text, marker_of


def test_percentiles_are_nearest_rank() -> None:
    values = list(range(1, 101))
    assert [report.percentile(values, q) for q in (50, 90, 99, 100)] == [50, 90, 99, 100]
    assert report.percentile([7], 50) == 7 and report.percentile([], 50) is None
    assert report.percentile([1, 2, 3], 0.1) == 1
    with pytest.raises(ValueError):
        report.percentile(values, 0)
    assert report.latency_ms([3_000_000, 1_000_000, 2_000_000, 4_000_000]) == {"p50": 2.0, "p90": 4.0, "p99": 4.0, "max": 4.0}
    assert report.latency_ms([]) == {"p50": None, "p90": None, "p99": None, "max": None}


def _tally(records: list[tuple[str, str, int]]) -> report.Tally:
    tally = report.Tally()
    for receiver, sender, sequence in records:
        tally.record(receiver, sender, sequence)
    return tally


def test_every_message_once_at_every_receiver_is_complete() -> None:
    records = [(r, "s", q) for r in ("a", "b") for q in range(100)]
    got = report.account(_tally(records), [report.Stream("s", 100, ("a", "b"))])
    assert got == report.Accounting(expected=200, decrypted=200, lost=0, duplicated=0, unexpected=0)


def test_lost_and_duplicated_are_found_per_receiver() -> None:
    records = [("a", "s", q) for q in range(10) if q != 3] + [("b", "s", q) for q in range(10)] + [("b", "s", 7), ("b", "s", 7)]
    got = report.account(_tally(records), [report.Stream("s", 10, ("a", "b", "c"))])
    assert (got.expected, got.decrypted, got.lost, got.duplicated, got.unexpected) == (30, 19, 11, 2, 0)


def test_refused_unsent_and_foreign_decryptions_are_unexpected_not_counted() -> None:
    records = [("a", "s", q) for q in range(5)] + [("a", "s", 9), ("x", "s", 0), ("a", "t", 0)]
    got = report.account(_tally(records), [report.Stream("s", 5, ("a",), refused=frozenset({4}))])
    # 4 owed (seq 4 refused); seq 4 and 9 at a, and x and t, were never owed.
    assert (got.expected, got.decrypted, got.lost, got.duplicated, got.unexpected) == (4, 4, 0, 0, 4)


def test_tallies_merge_across_fleets_and_survive_export() -> None:
    one = _tally([("a", "s", q) for q in range(3)])
    two = _tally([("b", "s", q) for q in range(300)] + [("a", "s", 2)])
    merged = report.Tally.merged([one.export(), two.export()])
    got = report.account(merged, [report.Stream("s", 3, ("a",)), report.Stream("s", 300, ("b",))])
    assert (got.decrypted, got.lost, got.duplicated) == (303, 0, 1)


def test_rate_series_bins_events_per_second() -> None:
    second = 1_000_000_000
    times = [0, second // 4, second // 2, 3 * second // 2, 3 * second - 1, -5]
    assert report.rate_series(times, 0, 1.0) == [4.0, 1.0, 1.0]
    assert report.rate_series(times, 0, 0.5) == [6.0, 2.0, 0.0, 2.0, 0.0, 2.0]
    assert report.rate_series([], 0, 1.0) == []


SECOND = 1_000_000_000


def test_open_loop_schedule_paces_stamps_and_stops_late_senders() -> None:
    s = Schedule(start_ns=SECOND, rate=10.0, duration=2.0, late=0.5)
    assert s.total == 20
    assert [s.due(0, SECOND, 64), s.due(1, SECOND, 64)] == [1, 0]  # message 0 at once, message 1 at 0.1 s
    assert s.due(1, SECOND + SECOND // 2, 64) == 5 and s.due(1, SECOND + SECOND // 2, 3) == 3  # the window caps
    assert s.stamp(5, 7 * SECOND) == SECOND + SECOND // 2  # its scheduled time, however late it goes
    assert s.wait(6, SECOND + SECOND // 2) == pytest.approx(0.1)
    assert not s.over(19, 3 * SECOND) and s.due(19, 3 * SECOND, 64) == 1  # behind, within `late`
    assert s.over(19, SECOND + 5 * SECOND // 2) and s.due(19, SECOND + 5 * SECOND // 2, 64) == 0  # too late: 19 sent of 20
    assert s.over(20, SECOND)


def test_closed_loop_schedule_fills_the_window_until_the_end() -> None:
    s = Schedule(start_ns=0, rate=None, duration=1.0, late=5.0)
    assert s.total is None
    assert s.due(1000, SECOND // 2, 7) == 7 and s.due(1000, SECOND // 2, 0) == 0
    assert s.stamp(3, 12345) == 12345 and s.wait(3, 0) == 0.0
    assert s.over(0, SECOND)  # `late` is for open loops


def test_load_text_carries_its_marker() -> None:
    text = load_text(42, 1_234_567, 1024)
    assert len(text) == 1024
    assert marker_of(b"\xa1\x00" + text.encode()) == (42, 1_234_567)  # inside any MIMI content encoding
    assert marker_of(b"hello") is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--members", "1"], "argument --members: members must be >= 2"),
        (["--rate", "0"], "argument --rate: rate must be > 0"),
        (["--rate", "fast"], "argument --rate: not a number: 'fast'"),
        (["--providers", "0"], "argument --providers: providers must be >= 1"),
        (["--rooms", "-2"], "argument --rooms: rooms must be >= 1"),
        (["--duration", "3601"], "argument --duration: duration must be > 0 and <= 3600"),
        (["--sweep", "2,x"], "argument --sweep: a comma-separated list of room sizes"),
        (["--sweep", "1,4"], "argument --sweep: a comma-separated list of room sizes"),
        (["--faults", "kill:2"], "argument --faults: unknown fault 'kill:2'"),
        (["--faults", "kill-hosts:-1"], "argument --faults: kill-hosts must be >= 0"),
    ],
)
def test_bad_arguments_get_a_clear_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["loadtest", *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_config_in_code_has_the_same_bounds() -> None:
    with pytest.raises(ValueError, match="members must be >= 2"):
        Config(members=1)
    with pytest.raises(ValueError, match="sweep room size must be >= 2"):
        Config(sweep=(1,))


def test_help_needs_no_ray() -> None:
    code = "import sys; from mimi.cli import main\ntry: main(['loadtest', '--help'])\nexcept SystemExit: pass\nprint('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "--sweep" in out.stdout and out.stdout.strip().endswith("False")


@pytest.mark.parametrize("transport", ["ray", "https"])
def test_small_run_every_member_decrypts_every_message_once(ray_cluster, tmp_path: Path, transport: str) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    argv = ["loadtest", "--providers", "2", "--rooms", "1", "--members", "4", "--rate", "20", "--duration", "2",
            "--out", str(out), "--data-dir", str(tmp_path), "--no-progress", "--transport", transport]
    assert main(argv) == 0
    result = json.loads((out / "report.json").read_text())
    assert result["config"]["transport"] == transport
    run = result["run"]
    assert run["sent"] == 40
    assert run["lost"] == run["duplicated"] == run["unexpected"] == 0
    assert run["delivered"] == run["decrypted"] == run["sent"] * (4 - 1)
    assert run["latency_ms"]["p50"] is not None and run["latency_ms"]["p50"] <= run["latency_ms"]["max"]
    assert sum(result["series"]["decrypted_per_s"]) * result["series"]["bin_s"][0] == run["decrypted"]
    for name in ("throughput", "latency_cdf", "cost_vs_room_size"):
        png = Path(result["files"][name])
        assert png.parent == out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("mimi-loadtest-*"))  # the run's SQLite files are gone
    assert not _actors_of_a_run(ray_cluster)  # every actor of the run was shut down


def _actors_of_a_run(ray: Any) -> list[str]:
    """Named actors of a load run still alive (a killed actor leaves the list shortly after)."""
    deadline = time.monotonic() + 10
    while True:
        left = [n for n in ray.util.list_named_actors() if re.search(r"p\d+-[0-9a-f]{6}\.example|run-(senders|fleet)", n)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def test_small_run_with_faults_counts_lost_and_duplicated_and_plots_recovery(ray_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # The faults of tests/test_faults.py through the command: 0 lost and 0 duplicated, or exit 1.
    out = tmp_path / "out"
    argv = ["loadtest", "--providers", "3", "--rooms", "1", "--members", "4", "--rate", "10", "--duration", "6",
            "--faults", "kill-hosts:2,adds:1,removes:1,seed:5", "--out", str(out), "--data-dir", str(tmp_path),
            "--no-progress"]
    code = main(argv)
    result = json.loads((out / "report.json").read_text())
    run, faults = result["run"], result["run"]["extra"]["faults"]
    assert result["config"]["faults"] == "kill-hosts:2,kill-hub:0,kill-providers:0,adds:1,removes:1,readds:0,seed:5"
    assert len(faults["kills"]) == 2 and any("senders" in k["host"] for k in faults["kills"])
    assert run["sent"] == faults["audit"]["acknowledged"] > 0
    assert (run["lost"], run["duplicated"]) == (faults["audit"]["lost"], faults["audit"]["duplicated"]) == (0, 0), faults
    assert faults["recovery_s"]["unrecovered"] == 0 and faults["recovery_s"]["max"] is not None
    assert code == 0
    png = Path(result["files"]["recovery"])
    assert png.parent == out and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("mimi-loadtest-*"))
    assert not _actors_of_a_run(ray_cluster)
