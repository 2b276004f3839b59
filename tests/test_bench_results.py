"""What `make bench` commits (benches/strip.py, benches/report.py), on the output of a real
pytest-benchmark run: the summary drops the per-round samples, keeps the statistics and the
machine facts, and renders the same table as the raw file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benches"))

from report import render
from strip import strip

BENCH = """
import pytest


@pytest.mark.benchmark(group="sum")
def test_sum_10(benchmark):
    benchmark.extra_info["items"] = 10
    benchmark(sum, range(10))


@pytest.mark.benchmark(group="sum")
def test_sum_1000(benchmark):
    benchmark(sum, range(1000))
"""


def raw_run(tmp_path: Path) -> dict[str, Any]:
    (tmp_path / "bench_sum.py").write_text(BENCH)
    out = tmp_path / "raw.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         "-o", "python_files=bench_*.py", "--benchmark-min-rounds=5", "--benchmark-max-time=0.001",
         f"--benchmark-json={out}", "bench_sum.py"],
        cwd=tmp_path, check=True, capture_output=True,
    )
    run: dict[str, Any] = json.loads(out.read_text())
    return run


def test_strip_drops_samples_and_keeps_statistics_and_machine_facts(tmp_path: Path) -> None:
    raw = raw_run(tmp_path)
    assert all(len(b["stats"]["data"]) == b["stats"]["rounds"] >= 5 for b in raw["benchmarks"])
    summary = strip(raw)
    assert [b["name"] for b in summary["benchmarks"]] == ["test_sum_10", "test_sum_1000"]
    for before, after in zip(raw["benchmarks"], summary["benchmarks"], strict=True):
        assert "data" not in after["stats"]
        assert {"min", "max", "mean", "median", "stddev", "ops", "rounds"} <= after["stats"].keys()
        assert after["stats"] == {k: v for k, v in before["stats"].items() if k != "data"}
        assert {k: v for k, v in after.items() if k != "stats"} == {k: v for k, v in before.items() if k != "stats"}
    assert summary["benchmarks"][0]["extra_info"] == {"items": 10}
    for key in ("machine_info", "commit_info", "datetime"):
        assert summary[key] == raw[key]
    assert "data" in raw["benchmarks"][0]["stats"]  # the raw run is left as it was


def test_report_renders_the_summary_as_it_renders_the_raw_run(tmp_path: Path) -> None:
    raw = raw_run(tmp_path)
    (tmp_path / "summary.json").write_text(json.dumps(strip(raw)))
    table = render(tmp_path / "summary.json")
    assert table == render(tmp_path / "raw.json")
    assert "| sum | test_sum_10 |" in table and "| sum | test_sum_1000 |" in table
