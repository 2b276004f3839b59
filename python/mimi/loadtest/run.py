"""`mimi loadtest`: providers, rooms and FleetHost actors on Ray, a message rate
for a while, then counts, throughput and send→decrypt latency.

Layout of one phase: room `r` has its hub on provider `r % providers`; its
member `j` is on provider `(hub + j) % providers`. Member 0 of every room
creates it, adds the others (KeyPackages through the hub) and is its one
sender; the senders share one FleetHost, and the receivers are spread over
`fleets` FleetHosts by provider (a provider's deliveries to them take one call
per fleet and `/notify` batch). A sender's actor serves nothing else while it
sends, so no receiver lives there.

The main phase runs the configuration; `--sweep` adds one-room phases of other
sizes on the same providers, for the cost-vs-room-size plot.
"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mimi.actors.deploy import Deployment, start_ray
from mimi.errors import MimiError
from mimi.ids import provider_of, user_of
from mimi.loadtest import plots, report
from mimi.loadtest.config import Config, from_args
from mimi.loadtest.faults import Churn, Faults, merged, plan
from mimi.loadtest.fleet import cpu_seconds, decrypted, fleet, recorded
from mimi.loadtest.inject import CHANGE_TIMEOUT_S, Injector
from mimi.transport.loopback import LoopbackFederation

PRESET = "cooperative"
POLL_S = 0.25
LATE_S = 60.0  # how far behind its schedule the sender may fall before the run fails
PART_S = 1.0  # under faults, the sender's drive calls last this long
RECOVER_S = 30.0  # after settling, how long a killed host may still take to catch up


Progress = Callable[[str, float, float | None], None]  # (stage, done, total)


@dataclass
class LoadRun:
    """The actors of a run and the phases measured on them."""

    config: Config
    data_dir: str
    progress: Progress = lambda stage, done, total: None
    tag: str = field(default_factory=lambda: secrets.token_hex(3))  # keeps actor names unique per run

    def __post_init__(self) -> None:
        self.deploy = Deployment(self.data_dir)
        self.provider_uris = [f"mimi://p{k}-{self.tag}.example" for k in range(self.config.providers)]
        self.federation: LoopbackFederation | None = None
        if self.config.transport == "https":
            self.federation = LoopbackFederation(self.provider_uris, Path(self.data_dir) / "tls")
            self.deploy.transport = self.federation.transport
        self.phases: list[report.Phase] = []

    def start(self) -> None:
        self.progress("starting providers", 0, len(self.provider_uris))
        for k, uri in enumerate(self.provider_uris, 1):
            self.deploy.provider(uri)
            self.progress("starting providers", k, len(self.provider_uris))

    def shutdown(self) -> None:
        self.deploy.shutdown()
        if self.federation is not None:
            self.federation.close()

    # -- one phase ------------------------------------------------------------------------

    def phase(self, label: str, rooms: int, members: int, rate: float, duration: float,
              faults: Faults | None = None) -> report.Phase:
        """One phase on fresh hubs and client hosts (gone when it returns); with
        `faults`, injected while it sends (`_faulted`)."""
        import ray

        c, d, n = self.config, self.deploy, len(self.provider_uris)
        room_uris = [f"{self.provider_uris[r % n]}/r/{label}-{r}" for r in range(rooms)]
        devices = [
            [f"{self.provider_uris[(r + j) % n]}/d/{label}-r{r}-m{j}/phone" for j in range(members)] for r in range(rooms)
        ]
        # Under faults, the sender has a second device (it must show the sender's
        # messages too), and newcomers wait to be added while the room sends.
        laptops = [room_devices[0].replace("/phone", "/laptop") for room_devices in devices] if faults else []
        newcomers = [
            [f"{self.provider_uris[(r + 2 + i) % n]}/d/{label}-r{r}-n{i}/phone" for i in range(faults.adds)] for r in range(rooms)
        ] if faults else [[] for _ in range(rooms)]
        hosts: list[str] = []
        hubs: list[str] = []
        started = time.monotonic()
        try:
            for r, room in enumerate(room_uris):
                self.progress(f"{label}: starting hubs", r, rooms)
                d.room_hub(room, self.provider_uris[r % n])
                hubs.append(room)
            self.progress(f"{label}: starting client fleets", 0, None)
            senders = [room_devices[0] for room_devices in devices]
            sender_host = f"{label}-senders-{self.tag}"
            sender = fleet(d, sender_host, senders)
            hosts.append(sender_host)
            receivers: list[Any] = []
            received = [dev for room_devices in devices for dev in room_devices[1:]] + laptops + [dev for group in newcomers for dev in group]
            hosted: dict[str, list[str]] = {sender_host: senders}
            for k in range(min(c.fleets, n)):
                hosted_k = [dev for dev in received if self.provider_uris.index(provider_of(dev)) % c.fleets == k]
                if hosted_k:
                    host = f"{label}-fleet{k}-{self.tag}"
                    receivers.append(fleet(d, host, hosted_k))
                    hosts.append(host)
                    hosted[host] = hosted_k
            everyone = senders + received
            ray.get([d.host(dev).publish_key_packages.remote(dev, 1) for dev in everyone])
            for r, room in enumerate(room_uris):
                self.progress(f"{label}: creating rooms", r, rooms)
                ray.get(sender.create_room.remote(senders[r], room, PRESET))
                users = [user_of(dev) for dev in devices[r][1:]] + ([user_of(senders[r])] if faults else [])
                result = ray.get(sender.add_users.remote(senders[r], room, users))
                if result["code"] != "success":
                    raise MimiError(f"adding {members - 1} members to {room}: {result}")
            for room in room_uris:
                d.settle(room, timeout=60 + members)
            streams = list(zip(senders, room_uris))
            setup_s = time.monotonic() - started
            if faults is None:
                measured = self._measure(label, rooms, members, rate, duration, sender, receivers, streams, devices, setup_s)
            else:
                churn = [
                    Churn(room, tuple(user_of(dev) for dev in devices[r][2:]), tuple(user_of(dev) for dev in newcomers[r]))
                    for r, room in enumerate(room_uris)
                ]
                # Adds by member 1, removes by the sender's laptop: neither is ever removed,
                # and their commits race.
                committers = {room: (devices[r][1], laptops[r]) for r, room in enumerate(room_uris)}
                measured = self._faulted(label, faults, rooms, members, rate, duration, sender, receivers, streams,
                                         churn, committers, hosted, setup_s)
            measured.summary.extra["phase_s"] = round(time.monotonic() - started, 2)
            return measured
        finally:
            for host in hosts:
                ray.kill(d.hosts.pop(host), no_restart=True)
            for room in hubs:
                ray.kill(d.hubs.pop(room), no_restart=True)

    def _measure(self, label: str, rooms: int, members: int, rate: float, duration: float, sender: Any,
                 receivers: list[Any], streams: list[tuple[str, str]], devices: list[list[str]], setup_s: float) -> report.Phase:
        import ray

        c, d = self.config, self.deploy
        hubs = [d.hubs[room] for _, room in streams]
        roles = {"hub": hubs, "providers": list(d.providers.values()), "receivers": receivers, "sender": [sender]}
        recorded(receivers, "take_records")  # setup's deliveries are not measured
        cpu_before = cpu_of(roles)
        expected = int(rate * duration) * (members - 1)
        running = sender.drive.remote(streams, rate, duration, c.size, c.window, LATE_S)
        stage = f"{label}: sending {rate:g} msg/s for {duration:g} s"
        until = time.monotonic() + duration + 120.0
        while time.monotonic() < until:
            done, _ = ray.wait([running], timeout=POLL_S)
            self.progress(stage, decrypted(receivers), expected)
            if done:
                break
        run = ray.get(running, timeout=max(1.0, until - time.monotonic()))
        if sum(run["sent"]) < int(rate * duration):
            raise MimiError(f"sending overran its {duration} s schedule by {LATE_S} s")
        expected = sum(run["sent"]) * (members - 1) - sum(len(r) for r in run["refused"]) * (members - 1)
        until = time.monotonic() + c.drain
        while (got := decrypted(receivers)) < expected and time.monotonic() < until:
            self.progress(f"{label}: draining", got, expected)
            time.sleep(POLL_S)
        self.progress(f"{label}: draining", decrypted(receivers), expected)
        cpu_after = cpu_of(roles)
        records = recorded(receivers, "take_records")
        tally = report.Tally.merged(r["tally"] for r in records)
        decrypt_ns: array[int] = array("q")
        latency_ns: array[int] = array("q")
        for record in records:
            decrypt_ns.frombytes(record["decrypt_ns"])
            latency_ns.frombytes(record["latency_ns"])
        streams_sent = [
            report.Stream(user_of(client), run["sent"][k], tuple(devices[k][1:]), frozenset(run["refused"][k]))
            for k, (client, _) in enumerate(streams)
        ]
        submit_ns: array[int] = array("q")
        submit_ns.frombytes(run["submit_ns"])
        accepted = run["answers"].get("accepted", 0)
        summary = report.summarize(
            providers=len(self.provider_uris), rooms=rooms, members=members, rate=rate, duration_s=duration,
            sent=accepted, delivered=sum(r["deliveries"] for r in records), accounting=report.account(tally, streams_sent),
            start_ns=run["start_ns"], send_seconds=run["seconds"], decrypt_ns=decrypt_ns, latencies_ns=latency_ns,
            cpu_s={role: round(cpu_after[role] - cpu_before[role], 3) for role in roles},
            extra={"hub_answers": run["answers"], "label": label, "setup_s": round(setup_s, 2)},
        )
        return report.Phase(label, summary, run["start_ns"], submit_ns, decrypt_ns, sorted(latency_ns), members - 1)

    def _faulted(self, label: str, faults: Faults, rooms: int, members: int, rate: float, duration: float, sender: Any,
                 receivers: list[Any], streams: list[tuple[str, str]], churn: list[Churn],
                 committers: dict[str, tuple[str, str]], hosted: dict[str, list[str]], setup_s: float) -> report.Phase:
        """Sends as `_measure` does, in parts of PART_S (a killed sender's host loses
        one part's answers, not the run), while `faults` are injected; then settles
        and audits what every device shows against the hub's log."""
        import ray
        from ray.exceptions import RayActorError

        c, d = self.config, self.deploy
        sender_host = next(iter(hosted))
        injector = Injector(d, plan(faults, duration, list(hosted), sender_host, churn, self.provider_uris), committers,
                            hosted)
        recorded(receivers, "take_records")  # setup's deliveries are not measured
        first = [0] * len(streams)
        answers: dict[str, int] = {}
        submit_ns: array[int] = array("q")
        parts_lost = 0
        start_ns, origin = time.monotonic_ns(), time.monotonic()
        deadline = origin + duration + LATE_S
        running: Any = None
        stage = f"{label}: sending {rate:g} msg/s for {duration:g} s with faults {faults}"
        while time.monotonic() < deadline:
            elapsed = time.monotonic() - origin
            if running is None:
                if elapsed >= duration:
                    break
                part = min(PART_S, duration - elapsed)
                running = sender.drive.remote(streams, rate, part, c.size, c.window, part, first=first)
                # If the answer is lost with the host, the next part numbers past all this one may have made.
                most = -(-int(rate * part) // len(streams))
                bound = [f + most for f in first]
            if ray.wait([running], timeout=POLL_S)[0]:
                try:
                    out = ray.get(running)
                    first = out["sent"]
                    for status, count in out["answers"].items():
                        answers[status] = answers.get(status, 0) + count
                    submit_ns.frombytes(out["submit_ns"])
                except RayActorError:
                    first, parts_lost = bound, parts_lost + 1
                running = None
            injector.tick(time.monotonic() - origin)
            self.progress(stage, min(elapsed, duration), duration)
        if running is not None:
            raise MimiError(f"sending did not end {LATE_S:g} s after its {duration:g} s")
        send_s = time.monotonic() - origin
        injector.finish(time.monotonic() + CHANGE_TIMEOUT_S, origin)
        self.progress(f"{label}: settling", 0, None)
        settled = True
        for room in injector.rooms:
            try:
                d.settle(room, timeout=c.drain)
            except MimiError:
                settled = False
        injector.recover(time.monotonic() + RECOVER_S, origin)
        records = recorded(receivers, "take_records")
        result = merged([injector.audit(room) for room in injector.rooms])
        decrypt_ns: array[int] = array("q")
        latency_ns: array[int] = array("q")
        for record in records:
            decrypt_ns.frombytes(record["decrypt_ns"])
            latency_ns.frombytes(record["latency_ns"])
        recovered = sorted(r.recovered for r in injector.recoveries if r.recovered is not None)
        summary = report.summarize(
            providers=len(self.provider_uris), rooms=rooms, members=members, rate=rate, duration_s=duration,
            sent=result.acknowledged, delivered=sum(r["deliveries"] for r in records),
            accounting=report.Accounting(result.expected, result.shown, result.lost, result.duplicated,
                                         result.unexpected + result.misplaced),
            start_ns=start_ns, send_seconds=send_s, decrypt_ns=decrypt_ns, latencies_ns=latency_ns,
            extra={"hub_answers": answers, "label": label, "setup_s": round(setup_s, 2), "faults": {
                "spec": str(faults),
                "settled": settled,
                "audit": result.to_json(),
                "kills": [r.to_json() for r in injector.recoveries],
                "server_kills": injector.server_kills,
                "recovery_s": {"p50": report.percentile(recovered, 50), "max": max(recovered, default=None),
                               "unrecovered": len(injector.recoveries) - len(recovered)},
                "changes": injector.changes,
                "raced": injector.raced,
                "parts_lost": parts_lost,
            }},
        )
        summary.complete = summary.complete and result.clean and settled
        return report.Phase(label, summary, start_ns, submit_ns, decrypt_ns, sorted(latency_ns), members - 1)


def cpu_of(roles: dict[str, list[Any]]) -> dict[str, float]:
    import ray

    return {role: sum(ray.get([h.__ray_call__.remote(cpu_seconds) for h in handles], timeout=60)) for role, handles in roles.items()}


# -- the whole run -----------------------------------------------------------------------------


def default_out() -> Path:
    return Path("loadtest-results") / datetime.now().strftime("%Y%m%d-%H%M%S")


def run(config: Config, out: Path, progress: Progress | None = None, address: str | None = None,
        data_root: str | None = None) -> dict[str, Any]:
    """Runs the configured phase (and the sweep's), writes report.json and the
    plots under `out`, and returns the report. Actors are gone when it returns."""
    out.mkdir(parents=True, exist_ok=True)
    start_ray(address, num_cpus=None if address else 2)
    data_dir = tempfile.mkdtemp(prefix="mimi-loadtest-", dir=data_root)
    load = LoadRun(config, data_dir, progress or (lambda stage, done, total: None))
    try:
        load.start()
        main = load.phase("run", config.rooms, config.members, config.rate, config.duration, config.faults)
        sweep = [load.phase(f"sweep{m}", 1, m, config.sweep_rate, config.sweep_duration) for m in config.sweep]
    finally:
        load.shutdown()
        shutil.rmtree(data_dir, ignore_errors=True)
    result = {
        "config": {**asdict(config), "sweep": list(config.sweep), "faults": str(config.faults) if config.faults else None},
        "run": main.summary.to_json(),
        "cost_us_per_message": report.cost_per_message_us(main.summary),
        "series": main.series(),
        "latency_cdf_ms": main.cdf(),
        "sweep": [{**p.summary.to_json(), "cost_us_per_message": report.cost_per_message_us(p.summary)} for p in sweep],
        "files": {},
    }
    result["files"] = plots.write_all(out, main, sweep)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


# -- the command -------------------------------------------------------------------------------


def command(args: Any) -> int:
    """`mimi loadtest` (argparse namespace of `config.add_arguments`): runs with a
    progress bar on stderr, prints the results table and where the files are."""
    import sys

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    config = from_args(args)
    out = Path(args.out) if args.out else default_out()
    console = Console(width=None if sys.stdout.isatty() else 200)  # a log or pipe gets the whole table
    bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True, disable=args.no_progress or not sys.stderr.isatty())
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: float, total: float | None) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    with bar:
        result = run(config, out, progress, args.address, args.data_dir)
    table = Table(title=f"mimi loadtest → {out}")
    for column in ("phase", "members", "msg/s asked", "sent", "delivered", "decrypted", "lost", "dup",
                   "msg/s", "deliveries/s", "p50 ms", "p90 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for s in [result["run"], *result["sweep"]]:
        lat = s["latency_ms"]
        table.add_row(s["extra"]["label"], str(s["members"]), f"{s['rate']:g}", str(s["sent"]), str(s["delivered"]),
                      str(s["decrypted"]), str(s["lost"]), str(s["duplicated"]), f"{s['messages_per_s']:g}",
                      f"{s['deliveries_per_s']:g}", *(("-" if lat[k] is None else f"{lat[k]:.1f}") for k in ("p50", "p90", "p99", "max")))
    console.print(table)
    console.print(f"CPU µs per message: {result['cost_us_per_message']}")
    faults = result["run"]["extra"].get("faults")
    if faults is not None:
        a, r = faults["audit"], faults["recovery_s"]
        console.print(f"faults {faults['spec']}: {len(faults['kills'])} host kills, "
                      f"{len(faults['server_kills'])} hub and provider kills, recovered in p50 {r['p50']} s, "
                      f"max {r['max']} s, {r['unrecovered']} never; {a['acknowledged']} messages acknowledged, "
                      f"lost {a['lost']}, duplicated {a['duplicated']}, unexpected {a['unexpected']}, misplaced "
                      f"{a['misplaced']}; members agree: {a['agree']}; settled: {faults['settled']}")
        for change in faults["changes"]:
            console.print(f"  {change['action']}: {change['outcome']}")
    console.print(f"report and plots: {out.resolve()}")
    complete = result["run"]["complete"] and all(s["complete"] for s in result["sweep"])
    if not complete:
        console.print("[red]incomplete: some messages were lost, duplicated or unexpected, or the members disagree[/red]")
    return 0 if complete else 1
