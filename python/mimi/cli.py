"""The `mimi` command."""

from __future__ import annotations

import argparse
import json
import sys

from mimi.policy.presets import PRESETS


def demo(args: argparse.Namespace) -> int:
    from mimi.demo import Demo

    run = Demo(args.preset)
    run.run()
    summary = run.summary()
    if args.json:
        json.dump(summary, sys.stdout, indent=2)
        print()
        return 0 if summary["agree"] else 1
    for line in run.log:
        print(line)
    print()
    clients = summary["clients"]
    assert isinstance(clients, dict)
    for name, view in clients.items():
        state = "member" if view["active"] else "removed"
        print(f"{name} {view['client']} ({state}, epoch {view['epoch']}, authenticator {view['epoch_authenticator'][:16]}…)")
        for m in view["messages"]:
            reactions = f"  [{m['reactions']} reaction(s)]" if m["reactions"] else ""
            print(f"    {m['sender']}: {m['text']}{reactions}")
    print()
    print("every remaining client agrees on epoch, epoch authenticator and participants:", summary["agree"])
    return 0 if summary["agree"] else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mimi", description="MIMI runtime: rooms across providers, MLS end to end.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="the seed's three-provider room, end to end")
    p.add_argument("--json", action="store_true", help="print a machine-readable summary")
    p.add_argument("--preset", choices=sorted(PRESETS), default="cooperative", help="room policy preset")
    p.set_defaults(run=demo)
    args = parser.parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
