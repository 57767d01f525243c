"""A workflow's YAML as plain Python plus the line of every value, read with bounds for hostile input:
nesting, the number of values after aliases are expanded, alias cycles, duplicate and non-scalar keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from daemon.errors import PipelineError

MAX_NODES = 50_000  # values after expanding aliases (`&a`/`*a`): bounds "billion laughs"
MAX_DEPTH = 64  # nesting levels (PyYAML's composer recurses: deeper input would exhaust the stack)
_SCALARS = yaml.SafeLoader("")  # only its scalar constructors are used (true, 10, 1.5, null)
_KINDS = {yaml.MappingNode: "a mapping", yaml.SequenceNode: "a list"}


class _Alias(yaml.Node):
    """An alias (`*name`) where it is used: the anchored node plus the line of the use."""

    def __init__(self, target: yaml.Node, mark: yaml.Mark) -> None:
        super().__init__(target.tag, target, mark, mark)


class _Loader(yaml.SafeLoader):
    """Composes the node graph only (never constructs), with bounded nesting and aliases kept visible."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = self._nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            target = super().compose_node(parent, index)  # the anchored node itself, shared, not copied
            return None if target is None else _Alias(target, mark)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_NODES:  # before building more: a flat million-item list stops here
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_NODES} values",
                                                  self.peek_event().start_mark)
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"nested deeper than {MAX_DEPTH} levels",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class Document:
    """The YAML tree as plain Python plus the line of every node, addressed by its path."""

    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.lines: dict[tuple[Any, ...], int] = {}
        self.spans: dict[tuple[Any, ...], tuple[int, int]] = {}  # source of string scalars (not via aliases)
        self._nodes = 0
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = mark.line + 1 if mark else 1
            raise PipelineError(f"{file}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from exc
        finally:
            loader.dispose()
        self.data = self._convert(node, (), None, ()) if node is not None else {}

    def _convert(self, node: yaml.Node, path: tuple[Any, ...], alias_line: int | None,
                 expanding: tuple[int, ...]) -> Any:
        line = node.start_mark.line + 1 if alias_line is None else alias_line
        if isinstance(node, _Alias):
            target = node.value
            if id(target) in expanding:
                raise self.error_line(line, "an alias refers to the value that contains it (a cycle)")
            # Everything inside an expansion is reported at the alias, where the user wrote it here.
            return self._convert(target, path, line, (*expanding, id(target)))
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise self.error_line(line, f"the workflow expands to more than {MAX_NODES} values "
                                        "(aliases nested too deep?)")
        self.lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1 if alias_line is None else alias_line
                while isinstance(key_node, _Alias):
                    key_node = key_node.value
                if not isinstance(key_node, yaml.ScalarNode):
                    raise self.error_line(key_line, f"a key must be a plain name, not {_KINDS[type(key_node)]}")
                key = key_node.value
                if key in first:
                    raise self.error_line(key_line, f"duplicate key {key!r} (first at line {first[key]}); "
                                                    "each key may appear once in a mapping")
                first[key] = key_line
                self.lines[(*path, key)] = key_line
                out[key] = self._convert(value_node, (*path, key), alias_line, expanding)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._convert(v, (*path, i), alias_line, expanding) for i, v in enumerate(node.value)]
        if alias_line is None:
            self.spans[path] = (node.start_mark.index, node.end_mark.index)
        # Scalars: let YAML type them (true, 10, 1.5, strings); `on` stays a plain string key here.
        return _SCALARS.construct_object(node) if node.tag != "tag:yaml.org,2002:str" else node.value

    def line(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def line_of_expression(self, path: tuple[Any, ...], nth: int) -> int:
        """The line of the nth `${{` inside a string value (a `run: |` block spans many lines)."""
        span = self.spans.get(path)
        if span is None:
            return self.line(path)
        pos = span[0] - 1
        for _ in range(nth + 1):
            pos = self.text.find("${{", pos + 1, span[1])
            if pos < 0:
                return self.line(path)
        return self.text.count("\n", 0, pos) + 1

    def error(self, path: tuple[Any, ...], message: str) -> PipelineError:
        return self.error_line(self.line(path), message)

    def error_line(self, line: int, message: str) -> PipelineError:
        return PipelineError(f"{self.file}:{line}: {message}")
