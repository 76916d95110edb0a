"""``linkcheck dockerfile --format sarif``: the shape code-scanning tools read, exact values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkcheck import __version__
from linkcheck.cli import main

if TYPE_CHECKING:
    import pytest

DOCKERFILES = Path(__file__).resolve().parent.parent / "fixtures" / "dockerfiles"


def _sarif(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[int, Any]:
    code = main(["dockerfile", "--format", "sarif", *map(str, files)])
    return code, json.loads(capsys.readouterr().out)


def test_error_finding_becomes_a_located_result(capsys: pytest.CaptureFixture[str]) -> None:
    path = DOCKERFILES / "c-gcc-dynamic-scratch.Dockerfile"
    code, doc = _sarif(capsys, path)
    assert code == 1  # the exit status does not depend on the output format
    assert (doc["version"], doc["$schema"]) == (
        "2.1.0",
        "https://json.schemastore.org/sarif-2.1.0.json",
    )
    (run,) = doc["runs"]
    assert run["tool"]["driver"]["name"] == "linkcheck"
    assert run["tool"]["driver"]["version"] == __version__
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == ["dynamic-binary-on-static-base"]
    (result,) = run["results"]
    assert result["ruleId"] == "dynamic-binary-on-static-base"
    assert result["level"] == "error"
    assert result["message"]["text"].endswith(
        "Fix: link with -static or -static-pie, or use a glibc base such as "
        "gcr.io/distroless/base-debian12"
    )
    (location,) = result["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": path.as_posix()},
        "region": {"startLine": 7},
    }


def test_info_is_a_note_and_clean_files_give_no_results(
    capsys: pytest.CaptureFixture[str],
) -> None:
    info = DOCKERFILES / "c-gcc-static-debian-info.Dockerfile"
    code, doc = _sarif(capsys, info)
    assert code == 0
    assert [(r["ruleId"], r["level"]) for r in doc["runs"][0]["results"]] == [
        ("static-binary-on-libc-base", "note")
    ]
    clean = DOCKERFILES / "go-alpine-builder-scratch.Dockerfile"
    code, doc = _sarif(capsys, clean)
    assert (code, doc["runs"][0]["results"], doc["runs"][0]["tool"]["driver"]["rules"]) == (
        0,
        [],
        [],
    )
