"""Render Dockerfile findings: text for editors and pre-commit, JSON for machines.

Text: ``path:line: severity rule: message`` (the form compilers use, so editors make it a link)
and an indented ``fix:`` line. JSON: ``{"files": [{"path", "findings": [...]}]}``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.dockerfile import DockerfileFinding

__all__ = ["render_json", "render_text"]


def render_text(results: Sequence[tuple[str, tuple[DockerfileFinding, ...]]]) -> str:
    """One block per finding; "" when there is nothing to say (a passing hook stays quiet)."""
    lines: list[str] = []
    for path, findings in results:
        for f in findings:
            lines.append(f"{path}:{f.line}: {f.severity.value} {f.rule}: {f.message}")
            if f.hint:
                lines.append(f"    fix: {f.hint}")
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(results: Sequence[tuple[str, tuple[DockerfileFinding, ...]]]) -> str:
    files = [
        {
            "path": path,
            "findings": [
                {
                    "rule": f.rule,
                    "severity": f.severity.value,
                    "line": f.line,
                    "message": f.message,
                    "hint": f.hint,
                    "stage": f.stage,
                }
                for f in findings
            ],
        }
        for path, findings in results
    ]
    return json.dumps({"files": files}, indent=2) + "\n"
