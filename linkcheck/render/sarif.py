"""SARIF 2.1.0 for ``linkcheck dockerfile --format sarif`` (GitHub code scanning, GitLab, IDEs).

One run, one result per finding, located at the Dockerfile line the finding names; the fix
goes into the message because code-scanning UIs show nothing else by default. Levels follow
the SARIF spec's vocabulary (section 3.27.10): error, warning, note.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from linkcheck.model import Severity

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.dockerfile import DockerfileFinding

__all__ = ["SARIF_SCHEMA", "render_sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_RULE_TEXT = {
    "dynamic-binary-on-static-base": "A dynamically linked binary is copied onto a base "
    "without a dynamic loader or libc",
    "glibc-binary-on-musl-base": "A glibc binary is copied onto a musl (Alpine) base",
    "musl-binary-on-glibc-base": "A musl binary is copied onto a glibc base",
    "glibc-too-new-for-base": "A binary built against a newer glibc than the base provides",
    "static-binary-on-libc-base": "Every binary is static: a static base would do",
}


def _rule(rule_id: str) -> dict[str, object]:
    return {
        "id": rule_id,
        "shortDescription": {"text": _RULE_TEXT.get(rule_id, rule_id)},
    }


def _result(path: str, finding: DockerfileFinding) -> dict[str, object]:
    text = finding.message + (f" Fix: {finding.hint}" if finding.hint else "")
    return {
        "ruleId": finding.rule,
        "level": _LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {
                    # SARIF wants URIs: forward slashes, relative to the working directory.
                    "artifactLocation": {"uri": PurePosixPath(path).as_posix()},
                    "region": {"startLine": finding.line},
                }
            }
        ],
        **({"properties": {"stage": finding.stage}} if finding.stage else {}),
    }


def render_sarif(
    results: Sequence[tuple[str, tuple[DockerfileFinding, ...]]], *, version: str
) -> str:
    rule_ids = sorted({f.rule for _, found in results for f in found})
    run = {
        "tool": {
            "driver": {
                "name": "linkcheck",
                "version": version,
                "rules": [_rule(r) for r in rule_ids],
            }
        },
        "results": [_result(path, f) for path, found in results for f in found],
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"
