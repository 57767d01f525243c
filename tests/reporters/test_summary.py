"""summary.md reads like a report: tables with units, `—` for absent values, no None, no reprs, one-line
skip reasons that name the fix, the reference C and virtual core blocks when the record has them."""

from __future__ import annotations

from pathlib import Path

from report_fixtures import record_of, sample_result

from daemon.record import RunRecord
from daemon.reporters.files import FilesReporter
from daemon.reporters.summary import BRIEF, brief, cut, summary_markdown

IMAGE_FAILED = (
    "image benchd/espidf is not on this machine, could not be pulled (benchd images are not pulled from Docker "
    "Hub; set docker.registry to use the lab's), and building docker/espidf failed: a RUN step returned a "
    "non-zero code: 1 (last output: ...); run `benchd images bootstrap` (an offline Debian base) and set "
    "docker.extra_ca when a proxy intercepts TLS, then `benchd images build espidf` to see the whole log"
)


def _record(**changes: object) -> RunRecord:
    result = sample_result("20250101-100000-abcdef")
    result["jobs"].append({"id": "firmware", "status": "skipped", "executor": "docker", "image": None,
                           "outputs": {}, "steps": [], "skip_reason": IMAGE_FAILED})
    result["jobs"].append({"id": "flash", "status": "skipped", "executor": None, "image": None, "outputs": {},
                           "steps": [],
                           "skip_reason": "matrix `board` is empty (${{ boards.esp32c3 }}): nothing to run on"})
    result.update(changes)
    return record_of(result)


def test_no_none_and_no_repr_even_with_absent_values() -> None:
    metrics = {"host": {"latency_ms": 1.25, "extra_block": {"a": 1}}, "boards": [{"id": "A0B1C2"}],
               "reference_c": {"arena_bytes": 9744}, "virtual": {"backend": "reference-c", "instructions": None,
                                                                 "toolchain": {"gcc": "12.2", "qemu": "7.2"}}}
    text = summary_markdown(_record(metrics=metrics, pipeline={"name": None, "file": None, "sha256": None},
                                    started_at=None))
    assert "None" not in text and "{'" not in text and "[" not in text.replace("](", "")
    assert "| latency, median | 1.250 ms |" in text
    assert "| A0B1C2 | — | — | — |" in text  # a board that said nothing more: dashes, not None


def test_figures_have_units_and_the_blocks_are_there_when_present() -> None:
    metrics = {"host": {"latency_ms": 0.104, "latency_p95_ms": 0.2, "max_abs_diff": 5, "top1_agreement": 0.9},
               "boards": [],
               "reference_c": {"arena_bytes": 8000, "arena_lower_bound_bytes": 8000, "constants_bytes": 1900,
                               "operators": 8},
               "virtual": {"backend": "reference-c", "instructions": 2375856, "rom_bytes": 27444, "ram_bytes": 10000,
                           "arena_bytes": 8000, "vectors": 3, "bit_exact": 3, "outputs": [[1, 2]]}}
    text = summary_markdown(_record(metrics=metrics))
    for row in ("| top-1 agreement with the TFLite reference | 90 % |", "| max abs difference | 5 LSB |",
                "| latency, p95 | 0.200 ms |", "## Reference C backend", "| arena lower bound | 8,000 B |",
                "| operators | 8 |", "## Virtual ESP32-C3 core", "| instructions per inference | 2,375,856 |",
                "| ROM | 27,444 B |", "| bit-exact vectors | 3 of 3 |"):
        assert row in text
    assert "## Boards" not in text  # no boards: no empty table


def test_blocks_absent_from_the_record_are_left_out() -> None:
    text = summary_markdown(_record())
    assert "Reference C" not in text and "Virtual" not in text
    assert "| CONV_2D" not in text


def test_skip_reasons_are_one_short_line_naming_the_fix() -> None:
    text = summary_markdown(_record())
    firmware = next(line for line in text.splitlines() if line.startswith("| firmware |"))
    reason = firmware.split(" | ")[-1].rstrip(" |")
    assert reason == "image benchd/espidf not built (its build failed) — `benchd images build espidf` shows why"
    assert len(reason) <= BRIEF
    assert "no esp32c3 board attached — `benchd boards` lists what is found" in text
    assert IMAGE_FAILED not in text  # the long text stays in result.json


def test_brief_cuts_unknown_text_at_a_word() -> None:
    long = "word " * 60
    assert len(brief(long)) <= BRIEF and brief(long).endswith("…") and "\n" not in brief("a\nb")
    assert cut("short") == "short" and brief(None) == "" and brief("") == ""
    assert brief("image benchd/riscv is not on this machine and could not be pulled (x); benchd has no "
                 "docker/riscv/Dockerfile to build it from") == (
        "image benchd/riscv not on this machine — load it with `docker load`, or set docker.registry")


def test_the_files_reporter_writes_it(tmp_path: Path) -> None:
    record = _record()
    FilesReporter(tmp_path).write(record)
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("# kws.tflite: success") and "## Jobs" in text and "None" not in text
