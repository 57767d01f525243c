"""summary.md: the run record as a short report a person reads (the files reporter writes it).

Tables with units, `—` where a figure is absent, never `None` or a Python repr; a skipped job's reason
in one line of at most 120 characters that names the fix (the whole text stays in result.json).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from daemon.record import SKIP_EXIT, BoardResult, JobRecord, RunRecord

ABSENT = "—"
BRIEF = 120  # characters of a reason in a table cell

_IMAGE = re.compile(r"image (?P<ref>benchd/(?P<name>[\w.-]+))\S* is not on this machine")
_ENGINE = re.compile(r"^(?P<what>[^:]*docker[^:]*): (?P<ref>\S+) is needed and not available here", re.I)
_MATRIX = re.compile(r"matrix `\w+` is empty \(\$\{\{\s*boards\.(?P<kind>\w+)\s*\}\}\)")


def brief(text: str | None, limit: int = BRIEF) -> str:
    """A reason in one line of at most `limit` characters, naming what to do where the text is known."""
    if not text:
        return ""
    if m := _IMAGE.search(text):
        ref, name = m["ref"], m["name"]
        if f"building docker/{name} failed" in text or "not built again until" in text:
            return f"image {ref} not built (its build failed) — `benchd images build {name}` shows why"
        if "has no docker/" in text:
            return f"image {ref} not on this machine — load it with `docker load`, or set docker.registry"
        return f"image {ref} not on this machine — `benchd images build {name}`"
    if m := _ENGINE.search(text):
        return f"{m['ref']} needed, no Docker engine here — start dockerd (`benchd images list` checks it)"
    if m := _MATRIX.search(text):
        return f"no {m['kind']} board attached — `benchd boards` lists what is found"
    return cut(" ".join(text.split()), limit)


def cut(text: str, limit: int = BRIEF) -> str:
    """At most `limit` characters, cut at a word, with `…` when something was left out."""
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:") + "…"


def value(v: Any, unit: str = "", digits: int | None = None) -> str:
    """A figure with its unit, or `—`; never a repr."""
    if v is None or v == "":
        return ABSENT
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        text = f"{v:,}"
    elif isinstance(v, float):
        text = f"{v:.{digits}f}" if digits is not None else f"{v:g}"
    elif isinstance(v, dict):
        text = ", ".join(f"{k} {value(x)}" for k, x in v.items())
    elif isinstance(v, list | tuple):
        text = ", ".join(value(x) for x in v) if len(v) <= 8 else f"{len(v)} values"
    else:
        text = str(v)
    return f"{text} {unit}" if unit else text


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") or ABSENT for c in row) + " |"
              for row in rows]
    return lines


def _percent(v: float | None) -> str:
    return ABSENT if v is None else f"{v * 100:.0f} %"


def _job_row(job: JobRecord) -> list[str]:
    ran = [s for s in job.steps if s.status not in ("skipped", "cancelled")]
    duration = value(round(sum(s.duration_s or 0 for s in ran), 1), "s") if ran else ABSENT
    failed = next((s for s in job.steps if s.status in ("failure", "error") and s.error), None)
    note = brief(job.skip_reason) or (cut(f"{failed.id}: {' '.join(failed.error.split())}") if failed and
                                      failed.error else "") or brief(job.warning)
    image = job.image.ref if job.image is not None and job.image.ref else ABSENT
    return [job.id, job.status, job.executor or ABSENT, image, duration, note or ABSENT]


def _figures(rows: Iterable[tuple[str, str]]) -> list[str]:
    kept = [(k, v) for k, v in rows if v != ABSENT]
    return table(["figure", "value"], kept) if kept else []


def _host(record: RunRecord) -> list[str]:
    h = record.metrics.host
    extra = h.extra
    rows = [("top-1 agreement with the TFLite reference", _percent(h.top1_agreement)),
            ("max abs difference", value(h.max_abs_diff, "LSB")),
            ("latency, median", value(h.latency_ms, "ms", 3)),
            ("latency, p95", value(h.latency_p95_ms, "ms", 3)),
            ("reference latency, median", value(extra.get("reference_latency_ms"), "ms", 3)),
            ("samples", value(extra.get("samples")))]
    body = _figures(rows)
    return ["", "## Host (TVM, llvm)", "", *body] if body else []


def _reference_c(record: RunRecord) -> list[str]:
    ref = record.metrics.reference_c
    if ref is None:
        return []
    body = _figures([("arena", value(ref.arena_bytes, "B")),
                     ("arena lower bound", value(ref.arena_lower_bound_bytes, "B")),
                     ("constants", value(ref.constants_bytes, "B")), ("operators", value(ref.operators))])
    return ["", "## Reference C backend", "", *body] if body else []


def _virtual(record: RunRecord) -> list[str]:
    v = record.metrics.virtual
    if v is None:
        return []
    exact = f"{v.bit_exact} of {v.vectors}" if v.bit_exact is not None and v.vectors is not None else ABSENT
    toolchain = v.extra.get("toolchain")
    body = _figures([("backend", value(v.backend)), ("instructions per inference", value(v.instructions)),
                     ("ROM", value(v.rom_bytes, "B")), ("RAM", value(v.ram_bytes, "B")),
                     ("arena", value(v.arena_bytes, "B")), ("bit-exact vectors", exact),
                     ("toolchain", cut(value(toolchain)) if isinstance(toolchain, dict | str) else ABSENT)])
    return ["", "## Virtual ESP32-C3 core (RV32IMC, QEMU)", "", *body] if body else []


def _backends(record: RunRecord) -> list[str]:
    """The reference backend and TVM on the same core, side by side (when both archives ran)."""
    matrix = record.metrics.virtual_matrix or {}
    if len(matrix) < 2:
        return []
    rows = [[f"`{name}`", value(m.get("instructions")), value(m.get("rom_bytes"), "B"), value(m.get("ram_bytes"), "B"),
             value(m.get("arena_bytes"), "B"), f"{value(m.get('bit_exact'))} of {value(m.get('vectors'))}"]
            for name, m in sorted(matrix.items())]
    return ["", "## Backends on the virtual core", "",
            *table(["backend", "instructions per inference", "ROM", "RAM", "arena", "bit-exact vs TFLite"], rows)]


def _boards(record: RunRecord) -> list[str]:
    boards = [b for b in record.metrics.boards if not _by_backend(b)]
    if not boards:
        return []
    rows = [[b.id or ABSENT, b.chip or ABSENT, b.status or ABSENT, value(b.flash_s, "s", 1),
             value(b.cycles_per_inference), value(b.instructions), value(b.bit_exact)] for b in boards]
    return ["", "## Boards", "",
            *table(["board", "chip", "status", "flash", "cycles per inference", "instructions", "bit-exact"], rows)]


def _by_backend(b: BoardResult) -> bool:
    """An ESP-IDF firmware labelled with its backend (a simulated board's `virt` image stays in the Boards table)."""
    return bool(b.backend) and b.extra.get("image") != "virt"


def _exact(b: BoardResult) -> str:
    if b.bit_exact is None or not b.vectors:
        return ABSENT
    return f"{'yes' if b.bit_exact == b.vectors else 'no'}, {b.bit_exact} of {b.vectors}"


BACKEND_FIGURES: tuple[tuple[str, Callable[[BoardResult], str]], ...] = (
    ("status", lambda b: b.status or ABSENT),
    ("cycles per inference", lambda b: value(b.cycles_per_inference)),
    ("outputs bit-exact vs TFLite", _exact),
    ("ROM (map file)", lambda b: value(b.rom_bytes, "B")),
    ("RAM (map file)", lambda b: value(b.ram_bytes, "B")),
    ("flash", lambda b: value(b.flash_s, "s", 1)),
)


def _board_backends(record: RunRecord) -> list[str]:
    """Each board's firmwares (one per backend: the reference C backend's, TVM's) side by side, a column each."""
    by_board: dict[str, dict[str, BoardResult]] = {}
    for b in record.metrics.boards:
        if _by_backend(b) and b.backend:  # a later entry (the monitor's) stands for the flash's
            by_board.setdefault(b.id or ABSENT, {})[b.backend] = b
    if not by_board:
        return []
    names = sorted({name for entries in by_board.values() for name in entries}, key=lambda n: (n != "reference-c", n))
    lines = ["", "## Boards: backends side by side"]
    for board, entries in by_board.items():
        rows = [[label, *(show(entries[n]) if n in entries else "not run" for n in names)]
                for label, show in BACKEND_FIGURES]
        lines += ["", f"`{board}`", "", *table(["figure", *(f"`{n}`" for n in names)], rows)]
    return lines


def _notes(title: str, notes: Sequence[Any]) -> list[str]:
    if not notes:
        return []
    return ["", f"## {title}", "", *(f"- `{n.where or 'run'}`: {' '.join(n.message.split())}" for n in notes)]


def _not_applied(record: RunRecord) -> list[str]:
    """Jobs a step found not to apply to this model (SKIP_EXIT), and the jobs skipped with them: said first,
    since a reader would otherwise look for their figures (e.g. the microcontroller half of the default pipeline)."""
    lines = []
    for job in record.jobs:
        if job.status == "skipped" and any(s.exit_code == SKIP_EXIT for s in job.steps):
            followers = [f"`{j.id}`" for j in record.jobs
                         if (j.skip_reason or "").startswith(f"needed job {job.id} was skipped")]
            also = f", nor did the jobs that need it ({', '.join(followers)})" if followers else ""
            reason = " ".join((job.skip_reason or "").split())
            lines.append(f"**`{job.id}` did not run for this model{also}:** {reason}")
    return ["", *lines] if lines else []


def summary_markdown(record: RunRecord, step_summaries: str = "") -> str:
    model, pipeline = record.model, record.pipeline
    sha = f"`{model.sha256[:16]}…`" if model.sha256 else ABSENT
    overview = [("run", f"`{record.run_id}`" if record.run_id else ABSENT),
                ("pipeline", f"{pipeline.name or ABSENT}" + (f" (`{pipeline.file}`)" if pipeline.file else "")),
                ("started", (record.started_at or ABSENT).replace("T", " ").replace("+00:00", " UTC")),
                ("duration", value(round(record.duration_s, 1), "s")),
                ("model", f"{value(model.size, 'B')}, sha256 {sha}")]
    lines = [f"# {model.name or 'model'}: {record.status}", *_not_applied(record), "", *table(["", ""], overview)]
    if record.duplicate_of:
        lines += ["", f"Same content and pipeline as run `{record.duplicate_of}`: not run again "
                      "(`benchd run --force` runs it anyway)."]
    if record.jobs:
        lines += ["", "## Jobs", "",
                  *table(["job", "status", "executor", "image", "duration", "note"], map(_job_row, record.jobs))]
    lines += _host(record) + _reference_c(record) + _virtual(record) + _backends(record)
    lines += _boards(record) + _board_backends(record)
    lines += _notes("Warnings", record.warnings) + _notes("Errors", record.errors)
    if step_summaries.strip():
        lines += ["", "## From the steps", "", step_summaries.strip()]
    return "\n".join(lines) + "\n"
