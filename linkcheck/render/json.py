"""The analysis report as JSON, schema ``linkcheck/report/v1`` (a contract: scripts parse it).

::

    {"schema": "linkcheck/report/v1",
     "image": {"source", "names", "digest"},
     "platforms": [{"platform": "linux/amd64",
                    "verdict": "pass" | "warn" | "fail",
                    "base": {"libc", "libc_version", "interpreters", "sonames", "os_release"},
                    "entrypoint": {"argv", "user", "working_dir", "path",
                                   "chain": [{"role", "name", "path", "real_path", "kind",
                                              "hops", "layer", "linkage", "arch",
                                              "interpreter", "libc", "go_version",
                                              "cgo_enabled", "libraries": NODE | null}]},
                    "findings": [{"rule", "severity", "path", "message", "hint", "detail"}],
                    "scanned": N}]}    # other ELF files checked by --all (0 without it)

    NODE = {"name", "status", "path", "real_path", "source", "layer", "repeated",
            "children": [NODE...]}

Every key is always present (null when unknown); ``detail`` is an object whose values are
strings, numbers, booleans, null or lists of strings.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from linkcheck.model import (
        BaseInfo,
        EntrypointInfo,
        ExecutedFile,
        Finding,
        LibraryNode,
        PlatformReport,
        Report,
    )

__all__ = ["SCHEMA", "render_json", "report_to_json"]

SCHEMA = "linkcheck/report/v1"

JsonValue = str | int | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


def _node(node: LibraryNode) -> JsonValue:
    return {
        "name": node.name,
        "status": node.status.value,
        "path": node.path,
        "real_path": node.real_path,
        "source": node.source,
        "layer": node.layer,
        "repeated": node.repeated,
        "children": [_node(c) for c in node.children],
    }


def _executed(f: ExecutedFile) -> JsonValue:
    return {
        "role": f.role,
        "name": f.name,
        "path": f.path,
        "real_path": f.real_path,
        "kind": f.kind,
        "hops": list(f.hops),
        "layer": f.layer,
        "linkage": f.linkage,
        "arch": f.arch,
        "interpreter": f.interpreter,
        "libc": f.libc.value if f.libc else None,
        "go_version": f.go_version,
        "cgo_enabled": f.cgo_enabled,
        "libraries": _node(f.libraries) if f.libraries else None,
    }


def _entrypoint(e: EntrypointInfo) -> JsonValue:
    return {
        "argv": list(e.argv),
        "user": e.user,
        "working_dir": e.working_dir,
        "path": e.path,
        "chain": [_executed(f) for f in e.chain],
    }


def _base(b: BaseInfo) -> JsonValue:
    return {
        "libc": b.libc.value,
        "libc_version": b.libc_version,
        "interpreters": list(b.interpreters),
        "sonames": list(b.sonames),
        "os_release": b.os_release,
    }


def _finding(f: Finding) -> JsonValue:
    detail: dict[str, JsonValue] = {
        key: list(value) if isinstance(value, tuple) else value for key, value in f.detail
    }
    return {
        "rule": f.rule,
        "severity": f.severity.value,
        "path": f.path,
        "message": f.message,
        "hint": f.hint,
        "detail": detail,
    }


def _platform(p: PlatformReport) -> JsonValue:
    return {
        "platform": str(p.platform),
        "verdict": p.verdict.value,
        "base": _base(p.base),
        "entrypoint": _entrypoint(p.entrypoint),
        "findings": [_finding(f) for f in p.findings],
        "scanned": p.scanned,
    }


def report_to_json(report: Report) -> dict[str, JsonValue]:
    """The report as plain JSON data (dicts, lists, scalars)."""
    return {
        "schema": SCHEMA,
        "image": {
            "source": report.image.source,
            "names": list(report.image.names),
            "digest": report.image.digest,
        },
        "platforms": [_platform(p) for p in report.platforms],
    }


def render_json(report: Report) -> str:
    return json.dumps(report_to_json(report), indent=2, ensure_ascii=False) + "\n"
