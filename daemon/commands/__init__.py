"""benchd's subcommands, one module per family; daemon.cli puts them in its COMMANDS table.

Each module has, per command, `NAME_arguments(sub)` declaring its parser and `NAME(args, settings) -> int`
running it; a BenchdError raised here becomes exit 2 in daemon.cli, the one error → exit-code boundary.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, NamedTuple

from daemon.settings import Settings


class Command(NamedTuple):
    """One `benchd` subcommand: how its arguments are declared, and what runs it."""

    arguments: Callable[[Any], None]  # called with the subparsers: adds the command's parser
    run: Callable[[argparse.Namespace, Settings], int]  # the exit code; BenchdError becomes 2 in daemon.cli


def common(p: argparse.ArgumentParser, run_flags: bool = True) -> None:
    p.add_argument("--config", help="benchd.toml (default: $BENCHD_CONFIG, else benchd.toml in this folder "
                                    "or a parent; none: the user data directory)")
    p.add_argument("--results", help="results folder (default: data/results beside benchd.toml)")
    p.add_argument("--state", help="state folder: SQLite store, snapshots (default: data/state beside benchd.toml)")
    if run_flags:
        p.add_argument("--executor", choices=["auto", "docker", "local"], help="where container jobs run")
