"""Reading a fleet file: YAML in, a validated ``FleetFile`` out, every error placed.

Errors name the file, the line and the path inside the document, e.g.
``fleet.yaml:212: facilities[1].nodes[4].gpus[3].model: unknown GPU model 'A100-81GB'``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from gpurent.errors import FileFormatError
from gpurent.fleet.schemas import FleetFile

Location = tuple[str | int, ...]


@dataclass
class FleetDocument:
    """A parsed fleet file and the line where each of its values starts."""

    source: str
    fleet: FleetFile
    lines: dict[Location, int] = field(default_factory=dict)

    def where(self, location: Location) -> str:
        return describe(self.source, self.lines, location)


def describe(source: str, lines: dict[Location, int], location: Location) -> str:
    """``file:line: path`` for a location, using the nearest enclosing known line."""
    for depth in range(len(location), -1, -1):
        line = lines.get(location[:depth])
        if line is not None:
            break
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
    return f"{source}:{line}: {path.lstrip('.') or '(document)'}"


def _line_map(node: yaml.Node, location: Location, lines: dict[Location, int]) -> list[str]:
    """Record each value's line; return duplicate-key problems (YAML would hide them)."""
    lines[location] = node.start_mark.line + 1
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        counts = Counter(str(key.value) for key, _ in node.value)
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if counts[key] > 1:
                problems.append(
                    f"line {key_node.start_mark.line + 1}: key {key!r} appears more than once"
                )
            problems += _line_map(value_node, (*location, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += _line_map(item, (*location, index), lines)
    return problems


def parse_fleet_text(text: str, source: str) -> FleetDocument:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data: Any = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
        raise FileFormatError(source, [(where, f"not valid YAML: {exc.problem}")]) from exc
    finally:
        loader.dispose()
    if node is None or not isinstance(data, dict):
        raise FileFormatError(
            source, [(f"{source}:1", "a fleet file is a mapping with 'facilities'")]
        )

    lines: dict[Location, int] = {}
    duplicates = _line_map(node, (), lines)
    if duplicates:
        raise FileFormatError(source, [(source, problem) for problem in duplicates])
    try:
        fleet = FleetFile.model_validate(data)
    except ValidationError as exc:
        problems = [
            (describe(source, lines, tuple(error["loc"])), _message(error))
            for error in exc.errors(include_url=False)
        ]
        raise FileFormatError(source, problems) from exc
    return FleetDocument(source=source, fleet=fleet, lines=lines)


def _message(error: Any) -> str:
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown field"
    return str(error["msg"])


def read_fleet_file(path: Path) -> FleetDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FileFormatError(str(path), [(str(path), f"cannot read: {exc}")]) from exc
    return parse_fleet_text(text, str(path))
