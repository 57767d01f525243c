"""`uses: benchd/migrate-tuning`: make TVM 0.9 AutoTVM logs usable by TVM v0.18.0 (benchd/tvm-legacy).

v0.18.0 refuses the target attributes 0.9 wrote into every record (`Cannot recognize 'link-params'`, then
'runtime'); with `-link-params=…`, `-runtime=…` and `-system-lib=…` stripped from the record's target it
applies them. The user's file is never edited: the migrated copy goes into the workspace.

Inputs: `records` (path to the log). Outputs: `records` (the file to pass to `--tuning-records`),
`migrated` (how many records were changed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from daemon.actions.context import ActionContext, ActionError

# Attributes TVM ≤ 0.9 put in target strings and v0.18.0's target parser no longer knows.
OBSOLETE = ("link-params", "runtime", "system-lib")
_OBSOLETE_FLAG = re.compile(r"\s*--?(?:" + "|".join(map(re.escape, OBSOLETE)) + r")(?:=\S*)?(?=\s|$)")


def migrate_target(target: str) -> str:
    """'c -keys=cpu -link-params=0 -runtime=c -system-lib=1' -> 'c -keys=cpu'."""
    return _OBSOLETE_FLAG.sub("", target).strip()


def migrate_record(line: str) -> tuple[str, bool]:
    """One JSON log line; returns (line, changed). Handles both the 'input' and the older 'i' layouts."""
    record = json.loads(line)
    key = "input" if "input" in record else "i" if "i" in record else None
    if key is None or not isinstance(record[key], list) or not record[key] or not isinstance(record[key][0], str):
        raise ValueError("not an AutoTVM record (no 'input' whose first item is the target string)")
    target = record[key][0]
    new = migrate_target(target)
    if new == target:
        return line, False
    record[key][0] = new
    return json.dumps(record), True


def migrate_lines(lines: Iterable[str], where: str = "records") -> tuple[list[str], int, int]:
    """All records of a log; returns (lines, records, changed). Errors name the file and the line."""
    out: list[str] = []
    total = changed = 0
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        try:
            new, did = migrate_record(text)
        except (ValueError, TypeError) as exc:
            raise ActionError(f"{where}:{number}: {exc}; pass an AutoTVM log (one JSON record per line)") from exc
        out.append(new)
        total += 1
        changed += did
    return out, total, changed


def migrate_file(source: Path, workspace: Path) -> tuple[Path, int, int]:
    """Write the migrated copy into <workspace>/tuning/; the source is only read."""
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ActionError(f"cannot read the tuning records {source}: {exc.strerror or exc}; check the "
                          "`records` input (a path visible to the job, e.g. inside the workspace)") from exc
    lines, total, changed = migrate_lines(text.splitlines(), where=str(source))
    target = workspace / "tuning" / f"{source.stem}.tvm018{source.suffix or '.log'}"
    if target.resolve() == source.resolve():
        raise ActionError(f"refusing to overwrite {source}: the migrated copy would replace the original")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return target, total, changed


def run(ctx: ActionContext) -> None:
    source = Path(ctx.require("records"))
    if not source.is_absolute():
        source = ctx.workspace / source
    target, total, changed = migrate_file(source, ctx.workspace)
    ctx.set_output("records", str(target))
    ctx.set_output("migrated", changed)
    if changed:
        # A `::warning::` line ends up in result.json: the result says the records were rewritten.
        print(f"::warning::migrated {changed} of {total} tuning records in {source.name} for TVM v0.18.0 "
              f"(removed {', '.join('-' + a for a in OBSOLETE)}); the original is unchanged, using {target}",
              flush=True)
        ctx.summary(f"Tuning records: {changed} of {total} in `{source.name}` migrated for TVM v0.18.0 "
                    f"(obsolete target attributes removed); used `{target.name}`.")
    else:
        print(f"{source.name}: {total} tuning records, none needed migrating", flush=True)
