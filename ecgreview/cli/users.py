"""``python -m ecgreview users add``: the local user file (``ECGREVIEW_AUTH=local``)."""

from __future__ import annotations

import argparse
import sys

from ecgreview.config import Settings


def _users_add(args: argparse.Namespace) -> int:
    import getpass

    from ecgreview.security.auth import add_user

    users_path = Settings.from_env().user_file
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(f"Password for {args.name}: ")
    user = add_user(users_path, args.name, password, args.role, replace=args.replace)
    print(f"{'updated' if args.replace else 'added'} {user.name} ({', '.join(sorted(user.roles))}) in {users_path}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``users add`` to the CLI's subcommands."""
    users = commands.add_parser("users", help="the local user file (ECGREVIEW_AUTH=local)").add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user, or reset one with --replace (password asked, or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, help="reader, adjudicator, teacher, student or admin (repeatable)")
    add.add_argument("--replace", action="store_true", help="reset an existing user's password and roles")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_users_add)
