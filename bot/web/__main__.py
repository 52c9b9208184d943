"""`python -m bot.web`: run the web app, or manage staff accounts.

    python -m bot.web --host 127.0.0.1 --port 8000        serve (the default command)
    python -m bot.web create-admin USERNAME [--password-stdin] [--display-name NAME]
    python -m bot.web create-user USERNAME --unit UNIT_ID [--admin] [--password-stdin] [--display-name NAME]
    python -m bot.web set-password USERNAME [--password-stdin]
    python -m bot.web create-token USERNAME                 prints a new API token (replaces the old one)
    python -m bot.web list-users
"""
from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from typing import List, Optional

from bot.settings import ROOT, load_env

COMMANDS = ("serve", "create-admin", "create-user", "set-password", "create-token", "list-users")


def _password(args) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("password (at least 10 characters): ")
        if getpass.getpass("again: ") != password:
            raise SystemExit("error: the two passwords differ")
    return password


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot.web", description="Resident chat page and staff console")
    sub = parser.add_subparsers(dest="command")
    serve = sub.add_parser("serve", help="run the web app (default)")
    for p in (parser, serve):
        p.add_argument("--host", default=None, help="default: $BIND_HOST or 127.0.0.1")
        p.add_argument("--port", type=int, default=None, help="default: $WEB_PORT or 8000")
    admin = sub.add_parser("create-admin", help="create an administrator account")
    admin.add_argument("username")
    admin.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    admin.add_argument("--display-name", default="")
    admin.add_argument("--unit", default=None, help="optional: the admin's own unit")
    user = sub.add_parser("create-user", help="create a staff account for a routing unit")
    user.add_argument("username")
    user.add_argument("--unit", required=True, help="a unit id of config/routing/<CITY>.yml")
    user.add_argument("--admin", action="store_true")
    user.add_argument("--password-stdin", action="store_true")
    user.add_argument("--display-name", default="")
    pw = sub.add_parser("set-password", help="set a new password (ends the person's sessions)")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true")
    token = sub.add_parser("create-token", help="issue an API token for an account")
    token.add_argument("username")
    sub.add_parser("list-users", help="list the accounts")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(argv)
    command = args.command or "serve"
    os.chdir(ROOT)
    load_env()
    from bot.db import upgrade_db

    upgrade_db()  # idempotent; the action server does the same on start
    from bot import staff
    from bot.tickets.routing import load_routing

    if command == "serve":
        return serve(args.host, args.port)
    units = set(load_routing().units)
    try:
        if command == "create-admin":
            created = staff.create_user(args.username, _password(args), role="admin", unit_id=args.unit,
                                        display_name=args.display_name, known_units=units)
            print(f"created admin {created.username}; log in at /console/login")
        elif command == "create-user":
            created = staff.create_user(args.username, _password(args), role="admin" if args.admin else "staff",
                                        unit_id=args.unit, display_name=args.display_name, known_units=units)
            print(f"created {created.role} {created.username} ({created.unit_id})")
        elif command == "set-password":
            staff.set_password(args.username, _password(args))
            print(f"password of {args.username} changed; their sessions have ended")
        elif command == "create-token":
            print(staff.issue_api_token(args.username))
        elif command == "list-users":
            for u in staff.list_users():
                print(f"{u.username}\t{u.role}\t{u.unit_id or '-'}\t{'active' if u.active else 'inactive'}\t{u.display_name}")
    except staff.AccountError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def serve(host: Optional[str], port: Optional[int]) -> int:
    import uvicorn

    from bot.privacy import install_log_masking
    from bot.settings import ensure_token

    from .app import create_app
    from .config import WebSettings, ensure_secret_key

    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install_log_masking()
    ensure_token()
    ensure_secret_key()
    host = host or os.environ.get("BIND_HOST", "127.0.0.1")
    port = port or int(os.environ.get("WEB_PORT", "8000"))
    app = create_app(WebSettings.from_env())
    uvicorn.run(app, host=host, port=port, log_level=level.lower() if level in ("DEBUG", "INFO", "WARNING", "ERROR") else "info",
                access_log=False, proxy_headers=False, server_header=False, ws_max_size=1_000_000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
