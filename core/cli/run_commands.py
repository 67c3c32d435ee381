"""CLI commands and messages about the run store's own housekeeping: `delete`, damaged runs,
what to say after Ctrl+C. Every run id or name printed here comes from the disk: it goes through
`core.text.printable` first."""

from __future__ import annotations

import argparse
import os
import socket
import sys

from core.text import plural, printable


def cmd_delete(args: argparse.Namespace) -> int:
    from core.runs.store import RunStore

    store = RunStore()
    for key in args.runs:
        entry = store.find(key)  # healthy or damaged: a damaged run can always be deleted
        store.delete(entry.id)
        print(f"Deleted run {printable(entry.id)}"
              + (f" (damaged: {printable(entry.damaged)})" if entry.damaged else "") + ".")
    return 0


def print_damaged(damaged: list, stream=None) -> None:  # type: ignore[no-untyped-def]
    """One line per damaged run: what is wrong and how to get rid of it."""
    for entry in damaged:
        print(f"damaged run {printable(entry.id, 120)}: {printable(entry.reason, 300)} "
              f"(delete it with `digitlab-cli delete {printable(entry.id, 120)}`)",
              file=stream or sys.stdout)


def interrupted_message(run_id: str | None) -> str:
    """What to say after Ctrl+C during `train`: the run to resume, checked to be resumable."""
    from core.runs.store import RunStore

    store = RunStore()
    if not run_id:  # interrupted before training started: the run this process created
        mine = [r for r in store.list()
                if r.pid == os.getpid() and r.host == socket.gethostname()]
        run_id = mine[-1].id if mine else None
    if not run_id:
        return "digitlab-cli: interrupted before a run was created; nothing to resume."
    try:
        record = store.get(run_id).record
    except Exception:  # the message must come out whatever the store holds
        return f"digitlab-cli: interrupted; run {printable(run_id)} could not be read back."
    if record.resumable:
        return (f"digitlab-cli: interrupted after {record.epochs_done} of "
                f"{plural(record.epochs_planned, 'epoch')}; resume with "
                f"`digitlab-cli train --resume {printable(record.id)}`.")
    return (f"digitlab-cli: interrupted; run {printable(record.id)} is "
            f"{record.effective_status} and cannot be resumed.")


def add_run_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("delete", help="delete runs from the run store (damaged ones too)")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run id, id prefix or name")
    p.set_defaults(handler=cmd_delete)
