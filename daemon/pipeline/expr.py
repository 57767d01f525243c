"""`${{ }}` expressions: the small subset of GitHub Actions expressions benchd supports.

Grammar: or := and ('||' and)* ; and := unary ('&&' unary)* ; unary := '!' unary | cmp ;
cmp := atom (('=='|'!=') atom)? ; atom := literal | call '()' | path | '(' or ')'.
Parsing happens at load time so that a typo is an error with file:line, not a surprise mid-run.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

FUNCTIONS = ("success", "failure", "always", "cancelled")
# root -> how many further name parts it takes (None: any), e.g. steps.<id>.outputs.<key>
ROOTS: dict[str, tuple[int, ...]] = {
    "model": (1,),
    "run": (1,),
    "env": (1,),
    "steps": (3,),
    "needs": (2, 3),
    "matrix": (1,),
    "boards": (1,),
}
FORMS = {
    "model": "model.<field>", "run": "run.id", "env": "env.<NAME>", "steps": "steps.<id>.outputs.<name>",
    "needs": "needs.<job>.outputs.<name> or needs.<job>.result", "matrix": "matrix.<name>",
    "boards": "boards.<kind>",
}
MODEL_FIELDS = ("path", "name", "stem", "sha256", "size")

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')|(?P<op>==|!=|&&|\|\||[!().])"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.S)


class ExprError(ValueError):
    """A malformed or unsupported expression; the loader adds file:line."""


@dataclass(frozen=True)
class Node:
    kind: str  # lit | path | call | not | and | or | eq | ne
    value: Any = None
    args: tuple[Node, ...] = ()


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f"cannot read expression {text!r} at {text[pos:]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise ExprError(f"expected {value or 'more'} in expression {self.text!r}")
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_()
        if self.peek() is not None:
            raise ExprError(f"unexpected {self.peek()[1]!r} in expression {self.text!r}")  # type: ignore[index]
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            node = Node("or", args=(node, self.and_()))
        return node

    def and_(self) -> Node:
        node = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            node = Node("and", args=(node, self.unary()))
        return node

    def unary(self) -> Node:
        if self.peek() == ("op", "!"):
            self.take()
            return Node("not", args=(self.unary(),))
        node = self.atom()
        tok = self.peek()
        if tok in (("op", "=="), ("op", "!=")):
            self.take()
            return Node("eq" if tok[1] == "==" else "ne", args=(node, self.atom()))  # type: ignore[index]
        return node

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Node("lit", float(value) if "." in value else int(value))
        if kind == "str":
            return Node("lit", value[1:-1].replace("''", "'"))
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind != "name":
            raise ExprError(f"unexpected {value!r} in expression {self.text!r}")
        if value in ("true", "false"):
            return Node("lit", value == "true")
        if value == "null":
            return Node("lit", None)
        if self.peek() == ("op", "("):
            self.take()
            self.take(")")
            if value not in FUNCTIONS:
                raise ExprError(f"unknown function {value}() (supported: {', '.join(FUNCTIONS)})")
            return Node("call", value)
        parts = [value]
        while self.peek() == ("op", "."):
            self.take()
            parts.append(self.take()[1])
        _check_path(parts, self.text)
        return Node("path", tuple(parts))


def _check_path(parts: list[str], text: str) -> None:
    root = parts[0]
    if root not in ROOTS:
        raise ExprError(f"unknown context {root!r} in {text!r} (known: {', '.join(ROOTS)})")
    if len(parts) - 1 not in ROOTS[root]:
        raise ExprError(f"{'.'.join(parts)!r} is not a complete reference in {text!r} (use {FORMS[root]})")
    if root == "model" and parts[1] not in MODEL_FIELDS:
        raise ExprError(f"model has no field {parts[1]!r} (fields: {', '.join(MODEL_FIELDS)})")
    if root == "run" and parts[1] != "id":
        raise ExprError(f"run has no field {parts[1]!r} (only run.id)")
    if root == "steps" and parts[2] != "outputs":
        raise ExprError(f"use steps.<id>.outputs.<name>, not {'.'.join(parts)!r}")
    if root == "needs" and not (
        (len(parts) == 3 and parts[2] == "result") or (len(parts) == 4 and parts[2] == "outputs")
    ):
        raise ExprError(f"use needs.<job>.outputs.<name> or needs.<job>.result, not {'.'.join(parts)!r}")


def parse(text: str) -> Node:
    return _Parser(text).parse()


def references(node: Node) -> list[tuple[str, ...]]:
    """Every context path an expression reads (the loader checks steps/needs ids with them)."""
    if node.kind == "path":
        return [node.value]
    return [p for arg in node.args for p in references(arg)]


@dataclass
class Context:
    values: Mapping[str, Any]  # root name -> nested dicts
    status: Callable[[str], bool] = lambda name: name in ("success", "always")


def evaluate(node: Node, ctx: Context) -> Any:
    k = node.kind
    if k == "lit":
        return node.value
    if k == "call":
        return ctx.status(node.value)
    if k == "path":
        cur: Any = ctx.values
        for part in node.value:
            cur = cur.get(part) if isinstance(cur, Mapping) else None
        return cur
    if k == "not":
        return not truthy(evaluate(node.args[0], ctx))
    if k == "and":
        left = evaluate(node.args[0], ctx)
        return evaluate(node.args[1], ctx) if truthy(left) else left
    if k == "or":
        left = evaluate(node.args[0], ctx)
        return left if truthy(left) else evaluate(node.args[1], ctx)
    a, b = (evaluate(n, ctx) for n in node.args)
    same = _loose(a) == _loose(b)
    return same if k == "eq" else not same


def _loose(v: Any) -> Any:
    # GitHub compares strings case-insensitively and numbers numerically.
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v.lower()
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int | float):
        return float(v)
    return v


def truthy(v: Any) -> bool:
    return v not in (None, False, 0, "", 0.0)


def to_text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list | dict):
        import json

        return json.dumps(v)
    return str(v)


def embedded(text: str) -> list[str]:
    """The `${{ … }}` bodies inside a string."""
    return [m.group(1) for m in EMBEDDED.finditer(text)]


def render(text: str, ctx: Context) -> Any:
    """Evaluate a string with embedded expressions; a string that is one expression keeps its type."""
    whole = EMBEDDED.fullmatch(text.strip())
    if whole:
        return evaluate(parse(whole.group(1)), ctx)
    return EMBEDDED.sub(lambda m: to_text(evaluate(parse(m.group(1)), ctx)), text)
