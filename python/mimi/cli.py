"""The `mimi` command."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

from mimi.policy.presets import PRESETS


def demo(args: argparse.Namespace) -> int:
    from mimi.actors.deploy import start_ray
    from mimi.demo import RayDemo

    data_dir = args.data_dir or tempfile.mkdtemp(prefix="mimi-demo-")
    start_ray(args.address, num_cpus=None if args.address else 2)
    run = RayDemo(data_dir, args.preset, args.burst, args.transport)
    try:
        run.run()
        summary = run.summary()
    finally:
        run.close()
    ok = bool(summary["agree"]) and not summary["plaintext_on_servers"]
    if args.json:
        json.dump(summary, sys.stdout, indent=2, default=lambda b: b.hex() if isinstance(b, bytes) else str(b))
        print()
        return 0 if ok else 1
    print(f"data directory: {data_dir}")
    for line in run.log:
        print(line)
    print()
    for name, view in summary["clients"].items():
        if "epoch" not in view:
            continue
        state = "member" if view["member"] else "removed"
        print(f"{name} {view['client']} ({state}, epoch {view['epoch']}, authenticator {view['epoch_authenticator'][:16]}…)")
        for m in view["messages"]:
            reactions = f"  [{m['reactions']} reaction(s)]" if m["reactions"] else ""
            print(f"    {m['sender']}: {m['text']}{reactions}")
        if view["burst_messages"]:
            print(f"    (+ {view['burst_messages']} messages of the fanout burst)")
    print()
    print("every remaining client agrees on epoch, epoch authenticator and participants:", summary["agree"])
    print("message plaintext found in server databases:", summary["plaintext_on_servers"] or "none")
    print(f"took {summary['seconds']} s")
    return 0 if ok else 1


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 0 and 100000, got {value}")
    return value


def loadtest(args: argparse.Namespace) -> int:
    from mimi.loadtest.run import command

    return command(args)


def serve(args: argparse.Namespace) -> int:
    from mimi import config
    from mimi.serve import serve

    try:
        provider = config.load(args.config)
    except config.ConfigError as err:
        print(f"mimi serve: {err}", file=sys.stderr)
        return 2
    return serve(provider, args.address, args.control)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mimi", description="MIMI runtime: rooms across providers, MLS end to end.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="the seed's three-provider room, end to end, federated over HTTPS")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cooperative", help="room policy preset")
    p.add_argument("--address", help="address of an existing Ray cluster (default: start a local one)")
    p.add_argument("--data-dir", help="where the SQLite files go (default: a fresh temporary directory)")
    p.add_argument("--burst", type=_count, default=100, help="messages in the closing fanout burst (default 100; 0: none)")
    p.add_argument("--transport", choices=("https", "ray"), default="https",
                   help="between providers: HTTPS with mutual TLS on 127.0.0.1 (default) or in-cluster Ray calls")
    p.set_defaults(run=demo)
    p = commands.add_parser("serve", help="one provider as its own deployment: its own Ray, data and HTTPS listener")
    p.add_argument("--config", required=True, help="the provider's provider.toml (mimi.config)")
    p.add_argument("--address", help="an existing Ray cluster to run on (default: a new local one, never another's)")
    p.add_argument("--control", action="store_true",
                   help="take device calls as JSON lines on stdin (tests and drivers; see mimi.serve)")
    p.set_defaults(run=serve)
    p = commands.add_parser("loadtest", help="rooms at a message rate on Ray: lost/duplicated, throughput, latency, plots")
    from mimi.loadtest.config import add_arguments  # argparse only: no Ray until it runs

    add_arguments(p)
    p.set_defaults(run=loadtest)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
