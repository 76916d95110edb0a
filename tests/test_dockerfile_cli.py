"""``linkcheck dockerfile``: output formats, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from linkcheck.cli import main

ROOT = Path(__file__).resolve().parent.parent
GOOD = ROOT / "fixtures" / "dockerfiles"
BAD = ROOT / "fixtures" / "dockerfiles-bad"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_text_output_is_clickable_then_fix(capsys: pytest.CaptureFixture[str]) -> None:
    path = GOOD / "go-cgo1-explicit-static.Dockerfile"
    code, out, err = run(["dockerfile", str(path)], capsys)
    assert code == 1 and err == ""
    first, second = out.splitlines()
    assert first.startswith(f"{path}:8: error dynamic-binary-on-static-base: /usr/local/bin/store ")
    assert second == (
        "    fix: rebuild with CGO_ENABLED=0, or use a glibc-dynamic base such as "
        "gcr.io/distroless/base-debian12"
    )


def test_clean_file_is_silent_and_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["dockerfile", str(GOOD / "go-export-cgo0.Dockerfile")], capsys) == (0, "", "")


@pytest.mark.parametrize(
    ("name", "code"),
    [("go-cgo-default-distroless-static", 0), ("go-cgo0-on-debian-info", 0)],
    ids=["warning-only", "info-only"],
)
def test_warnings_and_infos_do_not_fail(
    name: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    result, out, _ = run(["dockerfile", str(GOOD / f"{name}.Dockerfile")], capsys)
    assert result == code and out


def test_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    files = [GOOD / "go-two-targets.Dockerfile", GOOD / "go-export-cgo0.Dockerfile"]
    code, out, _ = run(["dockerfile", "--format", "json", *map(str, files)], capsys)
    assert code == 1
    data = json.loads(out)
    assert [f["path"] for f in data["files"]] == [str(p) for p in files]
    assert data["files"][1]["findings"] == []
    summary = [
        (f["rule"], f["severity"], f["line"], f["stage"]) for f in data["files"][0]["findings"]
    ]
    assert summary == [
        ("glibc-binary-on-musl-base", "error", 8, "debug"),
        ("dynamic-binary-on-static-base", "error", 12, "prod"),
    ]
    assert all(f["message"] and f["hint"] for f in data["files"][0]["findings"])


def test_user_catalog_classifies_an_unknown_base(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dockerfile = GOOD / "go-unknown-base.Dockerfile"
    assert run(["dockerfile", str(dockerfile)], capsys)[0] == 0
    catalog = tmp_path / "bases.json"
    entry = {"match": ["registry.example.com/platform/runtime"], "libc": "none"}
    catalog.write_text(json.dumps({"bases": [entry]}))
    code, out, _ = run(["dockerfile", "--catalog", str(catalog), str(dockerfile)], capsys)
    assert code == 1
    assert ":7: error dynamic-binary-on-static-base:" in out


BAD_CASES = {
    "empty": "empty.Dockerfile: file with no instructions",
    "comments-only": "comments-only.Dockerfile: file with no instructions",
    "elf-bytes": "elf-bytes.Dockerfile: binary data (NUL byte at offset 7)",
    "text-garbage": "text-garbage.Dockerfile:1: unknown instruction: }{",
    "not-utf8": "not-utf8.Dockerfile: not UTF-8 text (byte 21)",
    "unterminated-heredoc": "unterminated-heredoc.Dockerfile: unterminated heredoc",
    "unknown-instruction": "unknown-instruction.Dockerfile:2: unknown instruction: RUNN",
    "run-before-from": "run-before-from.Dockerfile:1: RUN before the first FROM",
    "from-bad-args": "from-bad-args.Dockerfile:1: FROM requires either one or three arguments",
}


@pytest.mark.parametrize(("name", "message"), list(BAD_CASES.items()), ids=list(BAD_CASES))
def test_bad_input_is_one_error_line_exit_3(
    name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = BAD / f"{name}.Dockerfile"
    code, out, err = run(["dockerfile", str(path)], capsys)
    assert (code, out) == (3, "")
    assert err == f"error: {BAD / message}\n"


def test_every_bad_fixture_is_tested() -> None:
    assert sorted(p.stem for p in BAD.glob("*.Dockerfile")) == sorted(BAD_CASES)


@pytest.mark.parametrize("make", ["missing", "directory"], ids=["missing-path", "directory"])
def test_unreadable_path(make: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "Dockerfile"
    if make == "directory":
        path.mkdir()
    code, out, err = run(["dockerfile", str(path)], capsys)
    assert (code, out) == (3, "")
    assert err.startswith(f"error: {path}: cannot read: ") and err.count("\n") == 1


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["dockerfile"], capsys)[0] == 2
    assert run(["dockerfile", "--format", "xml", "Dockerfile"], capsys)[0] == 2


def test_console_script_exit_codes_and_no_traceback() -> None:
    """The installed entry point, as pre-commit runs it: real process exit codes."""
    exe = Path(sys.executable).with_name("linkcheck")
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    cases = [
        (GOOD / "go-cgo1-explicit-static.Dockerfile", 1),
        (GOOD / "go-export-cgo0.Dockerfile", 0),
        (BAD / "elf-bytes.Dockerfile", 3),
    ]
    for path, expected in cases:
        proc = subprocess.run(
            [str(exe), "dockerfile", str(path)], capture_output=True, text=True, env=env
        )
        assert proc.returncode == expected, proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        '{"bases": [{"match": ["x"], "libc": "klibc"}]}',
        '{"bases": [{"libc": "musl"}]}',
    ],
    ids=["bad-json", "unknown-libc", "no-match-key"],
)
def test_bad_catalog_is_exit_3(
    content: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "bases.json"
    catalog.write_text(content)
    args = ["dockerfile", "--catalog", str(catalog), str(GOOD / "go-export-cgo0.Dockerfile")]
    code, out, err = run(args, capsys)
    assert (code, out) == (3, "")
    assert err.startswith(f"error: catalog {catalog}: ") and err.count("\n") == 1
