"""Pictures of the lifecycle, drawn from the lifecycle table and nothing else.

``render(lifecycle)`` returns the files ``tasklife diagram`` writes to ``diagrams/``: a Mermaid
``stateDiagram-v2``, an SVG picture and a README that shows both. It is pure: it computes text
and does no I/O, so a test can compare it with the files on disk and fail when they are stale.

The SVG layout: the non-terminal statuses stand in a column on the left, in order of distance
from the initial status; the terminal statuses stand in a column on the right. Edges between
the columns carry their labels near their source, where they are furthest apart.
"""

from __future__ import annotations

import math
from html import escape

import attrs

from tasklife.lifecycle import Lifecycle, TaskStatus

__all__ = ["mermaid", "render", "svg"]

MERMAID_FILE = "task_lifecycle.mmd"
SVG_FILE = "task_lifecycle.svg"
README_FILE = "README.md"

_BOX_W, _BOX_H = 116, 42
_LEFT_X, _RIGHT_X = 170, 700
_TOP_Y, _ROW_GAP = 90, 160
_LABEL_AT = 0.25  # where along a cross-column edge its label sits (0 = source, 1 = dest)


@attrs.frozen
class _Point:
    x: float
    y: float


def mermaid(lifecycle: Lifecycle) -> str:
    """The lifecycle as a Mermaid ``stateDiagram-v2``: the start marked, terminals final."""
    lines = ["stateDiagram-v2", f"    [*] --> {lifecycle.initial}"]
    for rule in lifecycle.table:
        lines.extend(f"    {src} --> {rule.dest} : {rule.action}" for src in rule.sources)
    lines.extend(f"    {s} --> [*]" for s in TaskStatus if s in lifecycle.terminal)
    return "\n".join(lines) + "\n"


def svg(lifecycle: Lifecycle) -> str:
    """The lifecycle as a standalone SVG picture."""
    positions = _layout(lifecycle)
    height = max(p.y for p in positions.values()) + _BOX_H + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="870" height="{height:.0f}" '
        f'viewBox="0 0 870 {height:.0f}" font-family="Helvetica, Arial, sans-serif" '
        'font-size="14">',
        "<title>tasklife task lifecycle</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#333"/></marker></defs>',
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    start = positions[lifecycle.initial]
    dot = _Point(start.x - _BOX_W / 2 - 70, start.y)
    parts.append(f'<circle cx="{dot.x:.1f}" cy="{dot.y:.1f}" r="9" fill="#333"/>')
    parts.append(_line(_Point(dot.x + 9, dot.y), _Point(start.x - _BOX_W / 2, start.y)))
    labels: list[str] = []
    for rule in lifecycle.table:
        for src in rule.sources:
            edge, label = _edge(positions, src, rule.dest, str(rule.action), lifecycle)
            parts.append(edge)
            labels.append(label)
    parts.extend(labels)  # labels last, so no edge is drawn over one
    for status, p in positions.items():
        parts.append(_box(status, p, terminal=status in lifecycle.terminal))
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def render(lifecycle: Lifecycle) -> dict[str, str]:
    """Every file of ``diagrams/``, by name, as text."""
    chart = mermaid(lifecycle)
    readme = (
        "# The task lifecycle\n\n"
        "Generated from `tasklife.lifecycle.TABLE` by `tasklife diagram`; do not edit by hand.\n"
        "A test fails when these files fall out of date with the table.\n\n"
        f"![The task lifecycle]({SVG_FILE})\n\n"
        f"The same diagram in Mermaid (`{MERMAID_FILE}`):\n\n"
        f"```mermaid\n{chart}```\n\n"
        f"{lifecycle.markdown_table()}"
    )
    return {MERMAID_FILE: chart, SVG_FILE: svg(lifecycle), README_FILE: readme}


def _layout(lifecycle: Lifecycle) -> dict[TaskStatus, _Point]:
    def distance(status: TaskStatus) -> int:
        path = lifecycle.path(lifecycle.initial, status)
        return len(path) if path is not None else len(TaskStatus)

    live = sorted((s for s in TaskStatus if s not in lifecycle.terminal), key=distance)
    final = [s for s in TaskStatus if s in lifecycle.terminal]
    positions = {s: _Point(_LEFT_X, _TOP_Y + i * _ROW_GAP) for i, s in enumerate(live)}
    positions.update({s: _Point(_RIGHT_X, _TOP_Y + i * _ROW_GAP) for i, s in enumerate(final)})
    return positions


def _edge(
    positions: dict[TaskStatus, _Point],
    src: TaskStatus,
    dest: TaskStatus,
    label: str,
    lifecycle: Lifecycle,
) -> tuple[str, str]:
    a, b = positions[src], positions[dest]
    if a.x != b.x:  # across the columns: a straight line, labelled near its source
        start, end = _clip(a, b), _clip(b, a)
        at = _Point(a.x + (b.x - a.x) * _LABEL_AT, a.y + (b.y - a.y) * _LABEL_AT)
        return _line(start, end), _label(at, label, "middle")
    # within a column: a bow to the left going down, to the right going up, so that an
    # action and its reverse (pause, resume) never share a line
    side = -1 if b.y > a.y else 1
    reverse = any(rule.dest is src and dest in rule.sources for rule in lifecycle.table)
    bow = 34 * side if reverse else 0
    start = _Point(a.x + bow / 2, a.y + (_BOX_H / 2) * (1 if b.y > a.y else -1))
    end = _Point(b.x + bow / 2, b.y - (_BOX_H / 2) * (1 if b.y > a.y else -1))
    control = _Point(a.x + bow * 1.6, (a.y + b.y) / 2)
    path = (
        f'<path d="M{start.x:.1f},{start.y:.1f} Q{control.x:.1f},{control.y:.1f} '
        f'{end.x:.1f},{end.y:.1f}" fill="none" stroke="#333" stroke-width="1.5" '
        'marker-end="url(#arrow)"/>'
    )
    anchor = "end" if side < 0 or not reverse else "start"
    offset = -14 if anchor == "end" else 14
    return path, _label(_Point(control.x + offset - bow * 0.8, control.y), label, anchor)


def _clip(center: _Point, toward: _Point) -> _Point:
    """Where the line from ``center`` toward ``toward`` leaves the box around ``center``."""
    dx, dy = toward.x - center.x, toward.y - center.y
    scale = min(
        (_BOX_W / 2) / abs(dx) if dx else math.inf,
        (_BOX_H / 2) / abs(dy) if dy else math.inf,
    )
    return _Point(center.x + dx * scale, center.y + dy * scale)


def _line(a: _Point, b: _Point) -> str:
    return (
        f'<line x1="{a.x:.1f}" y1="{a.y:.1f}" x2="{b.x:.1f}" y2="{b.y:.1f}" stroke="#333" '
        'stroke-width="1.5" marker-end="url(#arrow)"/>'
    )


def _label(at: _Point, text: str, anchor: str) -> str:
    width = 8.2 * len(text) + 8
    left = {"start": at.x - 4, "middle": at.x - width / 2, "end": at.x - width + 4}[anchor]
    return (
        f'<rect x="{left:.1f}" y="{at.y - 11:.1f}" width="{width:.1f}" height="19" rx="3" '
        f'fill="white" fill-opacity="0.9"/>'
        f'<text x="{at.x:.1f}" y="{at.y + 4:.1f}" text-anchor="{anchor}" fill="#1a4d8f">'
        f"{escape(text)}</text>"
    )


def _box(status: TaskStatus, p: _Point, *, terminal: bool) -> str:
    x, y = p.x - _BOX_W / 2, p.y - _BOX_H / 2
    fill = "#f3e1e1" if terminal else "#e3edf9"
    box = (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{_BOX_W}" height="{_BOX_H}" rx="10" '
        f'fill="{fill}" stroke="#333" stroke-width="1.5"/>'
    )
    if terminal:  # a final state: drawn with a double border, as in UML
        box += (
            f'<rect x="{x + 4:.1f}" y="{y + 4:.1f}" width="{_BOX_W - 8}" height="{_BOX_H - 8}" '
            'rx="7" fill="none" stroke="#333" stroke-width="1"/>'
        )
    return box + (
        f'<text x="{p.x:.1f}" y="{p.y + 5:.1f}" text-anchor="middle" '
        f'font-weight="bold">{escape(status.value)}</text>'
    )
