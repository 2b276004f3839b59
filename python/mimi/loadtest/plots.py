"""PNG plots of a load run (matplotlib, Agg backend): throughput over time,
latency CDF, cost growth vs room size, and under faults each killed host's time
to recover."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mimi.loadtest.report import Phase, cost_per_message_us


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _title(phase: Phase) -> str:
    s = phase.summary
    return f"{s.providers} providers, {s.rooms} room(s) × {s.members} members, {s.rate:g} msg/s for {s.duration_s:g} s"


def throughput(path: Path, phase: Phase) -> None:
    plt = _pyplot()
    series = phase.series()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    bin_s = series["bin_s"][0]
    t_sent = [k * bin_s for k in range(len(series["sent_per_s"]))]
    t_dec = [k * bin_s for k in range(len(series["decrypted_per_s"]))]
    ax.plot(t_sent, [v * phase.receivers for v in series["sent_per_s"]], label="offered: sent/s × receivers", drawstyle="steps-post")
    ax.plot(t_dec, series["decrypted_per_s"], label="decrypted/s (all receivers)", drawstyle="steps-post")
    ax.set_xlabel("seconds since the first send")
    ax.set_ylabel("deliveries per second")
    ax.set_title(_title(phase), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def latency_cdf(path: Path, phase: Phase) -> None:
    plt = _pyplot()
    ordered = phase.latency_ns
    fig, ax = plt.subplots(figsize=(8, 4.5))
    if ordered:
        n = len(ordered)
        step = max(1, n // 2000)
        xs = [ordered[i] / 1e6 for i in range(0, n, step)] + [ordered[-1] / 1e6]
        ys = [(i + 1) / n for i in range(0, n, step)] + [1.0]
        ax.plot(xs, ys)
        ax.set_xscale("log")
        for name, value in phase.summary.latency_ms.items():
            if value is not None and name != "max":
                ax.axvline(value, ls=":", color="gray")
                ax.annotate(f"{name} {value:.1f} ms", (value, 0.02), rotation=90, fontsize=8, color="gray")
    ax.set_xlabel("send → decrypt latency (ms, log)")
    ax.set_ylabel("fraction of decryptions")
    ax.set_title(_title(phase), fontsize=10)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def cost(path: Path, phases: list[Phase]) -> None:
    """CPU per message by role, and latency, against room size (one point per phase)."""
    plt = _pyplot()
    points = sorted(phases, key=lambda p: p.summary.members)
    sizes = [p.summary.members for p in points]
    fig, (cpu_ax, lat_ax) = plt.subplots(1, 2, figsize=(11, 4.5))
    roles = sorted({role for p in points for role in p.summary.cpu_s})
    for role in roles:
        cpu_ax.plot(sizes, [cost_per_message_us(p.summary).get(role, 0.0) / 1000 for p in points], marker="o", label=role)
    cpu_ax.set_xlabel("members per room")
    cpu_ax.set_ylabel("CPU ms per message (all copies)")
    cpu_ax.set_title("CPU per message by role", fontsize=10)
    cpu_ax.grid(alpha=0.3)
    if roles:  # none under faults: a restarted host's CPU time starts again
        cpu_ax.legend()
    for name in ("p50", "p99"):
        lat_ax.plot(sizes, [p.summary.latency_ms.get(name) or 0.0 for p in points], marker="o", label=name)
    lat_ax.set_xlabel("members per room")
    lat_ax.set_ylabel("send → decrypt latency (ms)")
    lat_ax.set_title("latency (" + ", ".join(f"{p.summary.rate:g} msg/s" for p in points[:1]) + ")", fontsize=10)
    lat_ax.grid(alpha=0.3)
    lat_ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def recovery(path: Path, phase: Phase) -> None:
    """Per kill: when it came, and the seconds until the restarted host's devices had
    processed all the hub had sequenced at the kill (a cross at the top: never)."""
    plt = _pyplot()
    faults = phase.summary.extra["faults"]
    kills = faults["kills"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    top = max([k["recovered_s"] for k in kills if k["recovered_s"] is not None], default=1.0) * 1.2
    for host in sorted({k["host"] for k in kills}):
        mine = [k for k in kills if k["host"] == host]
        done = [k for k in mine if k["recovered_s"] is not None]
        line = ax.plot([k["at_s"] for k in done], [k["recovered_s"] for k in done], "o", label=host)
        never = [k["at_s"] for k in mine if k["recovered_s"] is None]
        if never:
            ax.plot(never, [top] * len(never), "x", color=line[0].get_color(), markersize=10)
    ax.set_ylim(0, top * 1.05)
    ax.set_xlabel("kill: seconds since the first send")
    ax.set_ylabel("seconds until the restarted host caught up")
    audit = faults["audit"]
    ax.set_title(f"{_title(phase)}\nfaults {faults['spec']}: lost {audit['lost']}, duplicated {audit['duplicated']}",
                 fontsize=10)
    ax.grid(alpha=0.3)
    if kills:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_all(out: Path, main: Phase, sweep: list[Phase]) -> dict[str, str]:
    files = {"throughput": out / "throughput.png", "latency_cdf": out / "latency_cdf.png", "cost_vs_room_size": out / "cost_vs_room_size.png"}
    throughput(files["throughput"], main)
    latency_cdf(files["latency_cdf"], main)
    cost(files["cost_vs_room_size"], sweep or [main])
    if "faults" in main.summary.extra:
        files["recovery"] = out / "recovery.png"
        recovery(files["recovery"], main)
    return {name: str(path) for name, path in files.items()}
