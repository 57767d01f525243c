"""`python -m daemon.actions NAME`: run one built-in action in this (step) process."""

from __future__ import annotations

import importlib
import sys

from daemon.actions import ACTIONS
from daemon.actions.context import ActionContext
from daemon.errors import BenchdError


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in ACTIONS:
        print(f"::error::unknown action {argv[:1]}; built-in actions: {', '.join(sorted(ACTIONS))}")
        return 2
    name = argv[0]
    module = importlib.import_module(ACTIONS[name])
    ctx = ActionContext.from_environment(name)
    try:
        module.run(ctx)
    except BenchdError as exc:
        # The runner reads `::error::` lines into result.json; keep the message on one line.
        print("::error::" + " ".join(str(exc).split()), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
