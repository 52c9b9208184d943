"""Command line: ``python -m bot.tickets {escalate,retention,history,export}``.

    escalate --once            one pass of the time-limit job (escalation + auto-close of unrated cases)
    escalate --interval 60     the same every 60 s until SIGTERM / Ctrl-C (what `make run` starts)
    retention --older-than-days 180 [--dry-run]
    history GD20261124-0007    the full audit trail of a case
    export [--out FILE]        CSV of all cases, personal data masked

The database is ``DATABASE_URL`` (migrate first: ``python -m bot.db upgrade``); the routing is ``CITY``.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Optional

from ..db import get_database
from ..inbound import forget_older_than
from ..privacy import install_log_masking
from .autoclose import run_autoclose
from .escalation import run_escalation
from .routing import load_routing

log = logging.getLogger("bot.tickets")
INBOUND_KEEP_DAYS = 7


def tick(db, routing) -> str:
    report = run_escalation(db, routing)
    closed = run_autoclose(db, routing)
    # Channel message ids only guard against platform retries (minutes); a week is plenty.
    forgotten = forget_older_than(INBOUND_KEEP_DAYS, db)
    return f"{report.summary()}, auto-closed {len(closed)}, forgot {forgotten} old inbound ids"


def run_loop(db, routing, interval: float, stop: threading.Event, max_runs: Optional[int] = None) -> int:
    """Run the job every ``interval`` seconds until ``stop`` is set; a failing run is logged and the
    loop goes on (the next run catches up)."""
    runs = 0
    while not stop.is_set():
        try:
            log.info("escalation run: %s", tick(db, routing))
        except Exception:
            log.exception("escalation run failed; retrying in %ss", interval)
        runs += 1
        if max_runs is not None and runs >= max_runs:
            break
        stop.wait(interval)
    log.info("escalation loop stopped after %d runs", runs)
    return runs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.tickets", description="Ticket jobs and tools")
    parser.add_argument("--url", help="database URL (default: $DATABASE_URL or the SQLite file)")
    parser.add_argument("--city", help="routing file (default: $CITY or 'default')")
    sub = parser.add_subparsers(dest="cmd", required=True)
    esc = sub.add_parser("escalate", help="move overdue cases up the ladder")
    mode = esc.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="one run, then exit")
    mode.add_argument("--interval", type=float, metavar="SECONDS", help="run repeatedly")
    ret = sub.add_parser("retention", help="anonymise finished cases older than N days")
    ret.add_argument("--older-than-days", type=int, required=True)
    ret.add_argument("--dry-run", action="store_true", help="list what would be anonymised")
    his = sub.add_parser("history", help="print a case's audit trail")
    his.add_argument("number")
    exp = sub.add_parser("export", help="CSV export with personal data masked")
    exp.add_argument("--out", help="file (default: stdout)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_masking()
    db = get_database(args.url)

    if args.cmd == "escalate":
        routing = load_routing(args.city)
        if args.once:
            print(tick(db, routing))
            return 0
        if args.interval <= 0:
            parser.error("--interval must be positive")
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        run_loop(db, routing, args.interval, stop)
        return 0
    if args.cmd == "retention":
        from .retention import anonymise_finished

        report = anonymise_finished(db, args.older_than_days, dry_run=args.dry_run)
        verb = "would anonymise" if args.dry_run else "anonymised"
        print(f"{verb} {len(report.anonymised)} cases" + (": " + ", ".join(report.anonymised) if report.anonymised else ""))
        return 0
    if args.cmd == "history":
        from .errors import TicketNotFound
        from .service import TicketService

        svc = TicketService(db, load_routing(args.city))
        try:
            events = svc.history(args.number)
        except TicketNotFound:
            print("no such case", file=sys.stderr)
            return 1
        for e in events:
            print(f"{e.at.isoformat()}  {e.actor:<14} {e.action:<16} {e.from_state or '-'} -> {e.to_state or '-'}"
                  f"  {e.note or ''}")
        return 0
    if args.cmd == "export":
        from .export import write_csv

        if args.out:
            with open(args.out, "w", encoding="utf-8", newline="") as fh:
                n = write_csv(db, fh)
            print(f"exported {n} cases to {args.out}")
        else:
            write_csv(db, sys.stdout)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
