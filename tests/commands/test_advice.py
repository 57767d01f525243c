"""Every piece of advice benchd gives names a command or a flag that exists: the source is walked for
`benchd …` in backticks and for --flags in string literals, and each is checked against the argparse tables."""

from __future__ import annotations

import argparse
import ast
import re
from collections.abc import Iterator
from pathlib import Path

from daemon import cli
from daemon.tvmc.frontend import _parser as tvmc_parser

DAEMON = Path(cli.__file__).resolve().parent
COMMAND = re.compile(r"`(benchd(?: [^`]*)?)`")
# A flag offered as advice: inside backticks, or after "use", "pass", "with"… (argv lists are not advice).
FLAG = re.compile(r"(?:`[^`\n]*?|\b(?:use|pass|with|add|try|give|rerun with|run with)\s+)(?<![\w-])(--[a-z][a-z0-9-]*)")
PLACEHOLDER = re.compile(r"^([A-Z][A-Z0-9_.\[\]]*|\{.*\}|\.\.\.|…|\$.*|\".*|'.*|<.*>|\[.*\]|FILE\..*)$")
NOT_OURS = {"--build-arg", "--pdeathsig"}  # docker's build argument; util-linux setpriv's parent-death signal


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _flags(parser: argparse.ArgumentParser) -> set[str]:
    return {s for a in parser._actions for s in a.option_strings}


def _all_parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for sub in _subparsers(parser).values():
        yield from _all_parsers(sub)


def check_command(text: str) -> str | None:
    """None if `text` (benchd …) names commands and flags that exist; else what is wrong."""
    parser = cli.build_parser()
    known_flags = _flags(parser)
    siblings: dict[str, argparse.ArgumentParser] = {}
    for token in text.split()[1:]:
        if token in ("|", "&&", ";", ">", "2>&1"):
            break  # the rest is the shell's
        subs = _subparsers(parser)
        if token.startswith("-"):
            flag = token.split("=")[0].strip("[]")
            if flag not in known_flags | _flags(parser):
                return f"`{text}`: no flag {flag} here"
            continue
        if "{" in token or PLACEHOLDER.match(token):
            continue
        names = [t.strip("[]") for t in token.split("|")]
        if len(names) > 1:  # a usage line's alternatives (`list|build NAME|bootstrap`): each one must exist
            if all(n in subs or n in siblings or PLACEHOLDER.match(n) for n in names):
                continue
            return f"`{text}`: no command among {token!r}"
        if subs and all(n in subs for n in names):
            siblings = subs
            parser = subs[names[0]]
            known_flags |= _flags(parser)
            if parser.prog.endswith(" tvmc"):
                break  # tvmc has its own parser
            continue
        if subs and not any(a.dest != "command" and not a.option_strings and a.nargs != 0
                            for a in parser._actions if not isinstance(a, argparse._SubParsersAction)):
            return f"`{text}`: no command {token!r} (known: {', '.join(subs)})"
    return None


def advice() -> Iterator[tuple[str, int, str]]:
    for path in sorted(DAEMON.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield str(path.relative_to(DAEMON)), node.lineno, node.value


def test_the_walk_finds_the_advice_it_should() -> None:
    found = {text for _, _, s in advice() for text in COMMAND.findall(s)}
    assert "benchd images bootstrap" in found and any(t.startswith("benchd run") for t in found)
    assert check_command("benchd run --force") is None and check_command("benchd images build {name}") is None
    assert check_command("benchd run --port") is not None  # the checker can fail
    assert check_command("benchd frobnicate") is not None
    assert FLAG.findall("run with --executor local") == ["--executor"] and FLAG.findall("`x --port 1`") == ["--port"]
    assert FLAG.findall('["gcc", "--specs=picolibc.specs"]') == []  # an argv list is no advice
    assert "--force" in {f for _, _, s in advice() for f in FLAG.findall(s)}


def test_every_backticked_benchd_command_exists() -> None:
    wrong = [f"{where}:{line}: {problem}" for where, line, s in advice() for text in COMMAND.findall(s)
             if (problem := check_command(text))]
    assert not wrong, "\n".join(wrong)


def test_every_flag_in_a_message_exists() -> None:
    flags = {f for p in _all_parsers(cli.build_parser()) for f in _flags(p)} | _flags(tvmc_parser())
    for sub in _all_parsers(tvmc_parser()):
        flags |= _flags(sub)
    wrong = sorted({f"{where}:{line}: {flag}" for where, line, s in advice() for flag in FLAG.findall(s)
                    if flag not in flags | NOT_OURS})
    assert not wrong, "\n".join(wrong)
