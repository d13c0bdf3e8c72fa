"""``python -m ecgreview users``: the local user file (``ECGREVIEW_AUTH=local``) and sign-in lockouts.

* ``users add NAME --role ROLE`` adds a user (or resets one with ``--replace``);
* ``users locked`` lists the accounts locked after too many failed sign-ins;
* ``users unlock NAME`` lifts a lock (the server sees it at the next attempt, no restart).
"""

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


def _users_locked(args: argparse.Namespace) -> int:
    from ecgreview.security.throttle import locked_accounts, lockout_path

    locked = locked_accounts(lockout_path(Settings.from_env().user_file))
    for name, when in sorted(locked.items()):
        print(f"{name}\tlocked {when}")
    if not locked:
        print("no account is locked")
    return 0


def _users_unlock(args: argparse.Namespace) -> int:
    from ecgreview.security.throttle import lockout_path, unlock_account

    path = lockout_path(Settings.from_env().user_file)
    if not unlock_account(path, args.name):
        print(f"ecgreview: {args.name} is not locked ({path})", file=sys.stderr)
        return 1
    print(f"unlocked {args.name} ({path})")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``users add``, ``users locked`` and ``users unlock`` to the CLI's subcommands."""
    users = commands.add_parser("users", help="the local user file (ECGREVIEW_AUTH=local) and sign-in lockouts"
                                ).add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user, or reset one with --replace (password asked, or read from stdin)")
    add.add_argument("name")
    add.add_argument("--role", action="append", required=True, help="reader, adjudicator, teacher, student or admin (repeatable)")
    add.add_argument("--replace", action="store_true", help="reset an existing user's password and roles")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(handler=_users_add)
    locked = users.add_parser("locked", help="list the accounts locked after too many failed sign-ins")
    locked.set_defaults(handler=_users_locked)
    unlock = users.add_parser("unlock", help="lift the lock of an account (exit 1 when it was not locked)")
    unlock.add_argument("name")
    unlock.set_defaults(handler=_users_unlock)
