"""Schema commands: `python -m bot.store upgrade URL`, `current URL`, `revision "message"` (development)."""

from __future__ import annotations

import argparse
import sys

from bot.store import schema
from bot.store.engine import make_engine


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.store", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="migrate the database to a revision (default: head)")
    upgrade.add_argument("url")
    upgrade.add_argument("--to", default="head", metavar="REVISION")
    current = commands.add_parser("current", help="print the database's revision and the newest one")
    current.add_argument("url")
    revision = commands.add_parser("revision", help="autogenerate a new migration from the models")
    revision.add_argument("message")
    args = parser.parse_args(argv)

    if args.command == "revision":
        print(schema.make_revision(args.message))
        return 0
    engine = make_engine(args.url)
    try:
        if args.command == "upgrade":
            schema.upgrade(engine, args.to)
        print(f"database at {schema.current_revision(engine)}, newest {schema.head_revision()}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
