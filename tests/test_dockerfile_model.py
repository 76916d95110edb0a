"""Unit tables for the pieces under ``check_dockerfile``: expansion, shell, catalog, copies."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from linkcheck.dockerfile import LibcFlavour, check_dockerfile, load_catalog
from linkcheck.dockerfile.catalog import normalize_ref
from linkcheck.dockerfile.shell import simulate
from linkcheck.dockerfile.stages import relocate
from linkcheck.dockerfile.words import expand

if TYPE_CHECKING:
    from pathlib import Path

ENV = {"A": "a", "EMPTY": "", "V": "1.22"}
EXPANSIONS = {
    "plain": ("$A/${A}", "a/a"),
    "default-unset": ("${NOPE:-x}", "x"),
    "default-empty-colon": ("${EMPTY:-x}", "x"),
    "default-empty-nocolon": ("${EMPTY-x}", ""),
    "alt-set": ("${A:+yes}", "yes"),
    "alt-unset": ("${NOPE:+yes}", ""),
    "unset-is-empty": ("golang:${NOPE}", "golang:"),
    "nested-default": ("${NOPE:-golang:${V}}", "golang:1.22"),
    "double-quotes-expand": ('"$A b"', "a b"),
    "single-quotes-literal": ("'$A'", "$A"),
    "escaped-dollar": ("\\$A", "$A"),
}


@pytest.mark.parametrize(("word", "want"), list(EXPANSIONS.values()), ids=list(EXPANSIONS))
def test_expand(word: str, want: str) -> None:
    assert expand(word, ENV) == want


SCRIPTS = {
    "inline": ("CGO_ENABLED=0 go build", "0"),
    "export": ("export CGO_ENABLED=0 && go build", "0"),
    "bare-not-exported": ("CGO_ENABLED=0; go build", None),
    "bare-then-export": ("CGO_ENABLED=0; export CGO_ENABLED; go build", "0"),
    "env-prefix": ("env CGO_ENABLED=1 go build", "1"),
    "inline-does-not-stick": ("CGO_ENABLED=1 true && go build", None),
    "unset": ("export CGO_ENABLED=1; unset CGO_ENABLED; go build", None),
    "continuation": ("CGO_ENABLED=1 \\\n  go build", "1"),
    "comment": ("go build # CGO_ENABLED=1", None),
}


@pytest.mark.parametrize(("script", "cgo"), list(SCRIPTS.values()), ids=list(SCRIPTS))
def test_shell_environment(script: str, cgo: str | None) -> None:
    (go,) = [c for c in simulate(script, {}, "/src") if c.argv[0] == "go"]
    assert go.env_dict().get("CGO_ENABLED") == cgo


def test_shell_cd_changes_cwd() -> None:
    commands = list(simulate("cd cmd/x && go build && cd / && ls", {}, "/src"))
    assert [(c.argv[0], c.cwd) for c in commands] == [("go", "/src/cmd/x"), ("ls", "/")]


CATALOG = {
    "scratch": ("scratch", LibcFlavour.NONE, None, None),
    "distroless-static": (
        "gcr.io/distroless/static-debian12:nonroot",
        LibcFlavour.NONE,
        None,
        None,
    ),
    "distroless-base-11": ("gcr.io/distroless/base-debian11", LibcFlavour.GLIBC, "2.31", None),
    "distroless-cc": ("gcr.io/distroless/cc", LibcFlavour.GLIBC, "2.36", None),
    "minimus-static": ("reg.mini.dev/static", LibcFlavour.NONE, None, None),
    "minimus-glibc": ("reg.mini.dev/glibc-dynamic:latest", LibcFlavour.GLIBC, None, None),
    "chainguard-static": ("cgr.dev/chainguard/static", LibcFlavour.NONE, None, None),
    "chainguard-glibc": ("cgr.dev/chainguard/glibc-dynamic", LibcFlavour.GLIBC, None, None),
    "wolfi-base": ("cgr.dev/chainguard/wolfi-base", LibcFlavour.GLIBC, None, None),
    "alpine": ("alpine:3.20.3", LibcFlavour.MUSL, "1.2.5", False),
    "alpine-hub-prefix": ("docker.io/library/alpine:3.19", LibcFlavour.MUSL, "1.2.4", False),
    "debian-bookworm": ("debian:bookworm-slim", LibcFlavour.GLIBC, "2.36", False),
    "debian-11": ("debian:11", LibcFlavour.GLIBC, "2.31", False),
    "debian-buster": ("debian:buster", LibcFlavour.GLIBC, "2.28", False),
    "debian-trixie": ("debian:trixie", LibcFlavour.GLIBC, "2.41", False),
    "ubuntu-20": ("ubuntu:20.04", LibcFlavour.GLIBC, "2.31", False),
    "ubuntu-jammy": ("ubuntu:jammy", LibcFlavour.GLIBC, "2.35", False),
    "ubuntu-24": ("ubuntu:24.04", LibcFlavour.GLIBC, "2.39", False),
    "ubi8": ("redhat/ubi8-minimal", LibcFlavour.GLIBC, "2.28", None),
    "ubi9": ("registry.access.redhat.com/ubi9/ubi:9.4", LibcFlavour.GLIBC, "2.34", None),
    "fedora": ("fedora:40", LibcFlavour.GLIBC, "2.39", False),
    "busybox": ("busybox", LibcFlavour.GLIBC, "2.36", False),
    "busybox-musl": ("busybox:1.36-musl", LibcFlavour.MUSL, None, False),
    "busybox-uclibc": ("busybox:uclibc", LibcFlavour.UCLIBC, None, False),
    "golang-alpine": ("golang:1.22-alpine3.19", LibcFlavour.MUSL, None, False),
    "golang-bookworm": ("golang:1.22-bookworm", LibcFlavour.GLIBC, "2.36", True),
    "golang-bullseye": ("golang:1.21-bullseye", LibcFlavour.GLIBC, "2.31", True),
    "golang-latest": ("golang", LibcFlavour.GLIBC, "2.41", True),
    "rust-slim-bookworm": ("rust:1.79-slim-bookworm", LibcFlavour.GLIBC, "2.36", True),
    "rust-alpine": ("rust:alpine", LibcFlavour.MUSL, None, True),
    "python-slim": ("python:3.12-slim", LibcFlavour.GLIBC, None, False),
    "python-alpine": ("python:3.12-alpine", LibcFlavour.MUSL, None, False),
    "node-alpine": ("node:20-alpine", LibcFlavour.MUSL, None, False),
    "node-bullseye": ("node:18-bullseye-slim", LibcFlavour.GLIBC, "2.31", False),
    "unknown": ("registry.example.com/team/runtime:1", LibcFlavour.UNKNOWN, None, None),
}


@pytest.mark.parametrize(
    ("ref", "libc", "version", "cc"), list(CATALOG.values()), ids=list(CATALOG)
)
def test_catalog(ref: str, libc: LibcFlavour, version: str | None, cc: bool | None) -> None:
    base = load_catalog().lookup(ref)
    assert (base.libc, base.libc_version, base.cc) == (libc, version, cc)


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("Alpine", "alpine:latest"),
        ("docker.io/library/debian:12@sha256:" + "0" * 64, "debian:12"),
        ("localhost:5000/app", "localhost:5000/app:latest"),
        ("ghcr.io/o/app:1.0", "ghcr.io/o/app:1.0"),
    ],
    ids=["case-and-tag", "hub-prefix-digest", "registry-port", "other-registry"],
)
def test_normalize_ref(ref: str, want: str) -> None:
    assert normalize_ref(ref) == want


RELOCATIONS = {
    "exact-file": ("/out/app", "/out/app", "/app", False, "/app"),
    "file-into-dir": ("/out/app", "/out/app", "/usr/bin", True, "/usr/bin/app"),
    "dir-copy": ("/out/app", "/out", "/opt", False, "/opt/app"),
    "root-copy": ("/out/app", "/", "/x", False, "/x/out/app"),
    "unknown-name": ("/src/*", "/src/server", "/server", False, "/server"),
    "unknown-name-skips-config": ("/src/*", "/src/config.yaml", "/c.yaml", False, None),
    "glob-source": ("/out/app", "/out/*", "/bin/", True, "/bin/app"),
    "tree-subdir": ("/opt/venv/**", "/opt/venv/lib", "/v/lib", False, "/v/lib"),
    "tree-whole": ("/opt/venv/**", "/opt/venv", "/opt/venv", False, "/opt/venv/**"),
    "tree-contents-not-dir": ("/src/**", "/src", "/app/", True, "/app/**"),
    "tree-file-into-dir": ("/src/**", "/src/build/app", "/usr/bin/", True, "/usr/bin/app"),
    "tree-skips-config": ("/src/**", "/src/conf/app.toml", "/etc/app.toml", False, None),
    "tree-skips-static-dir": ("/src/**", "/src/static", "/static", False, None),
    "install-bindir": ("/usr/local/*bin/*", "/usr/local/bin/app", "/app", False, "/app"),
    "unrelated": ("/out/app", "/etc/ssl", "/etc/ssl", False, None),
    "deeper-than-file": ("/out/app", "/out/app/x", "/x", False, None),
}


@pytest.mark.parametrize(
    ("pattern", "src", "dest", "into_dir", "want"),
    list(RELOCATIONS.values()),
    ids=list(RELOCATIONS),
)
def test_relocate(pattern: str, src: str, dest: str, into_dir: bool, want: str | None) -> None:
    assert relocate(pattern, src, dest, into_dir=into_dir) == want


def test_arg_scope_global_vs_stage() -> None:
    """A global ARG feeds FROM; a stage sees it only after ``ARG NAME``; ENV beats ARG."""
    text = (
        "ARG CGO_ENABLED=1\n"
        "ARG BASE=scratch\n"
        "FROM golang:1.22-alpine AS build\n"
        "ARG CGO_ENABLED\n"
        "RUN go build -o /app .\n"
        "FROM ${BASE}\n"
        "COPY --from=build /app /app\n"
    )
    (finding,) = check_dockerfile(text)
    assert (finding.rule, finding.line) == ("dynamic-binary-on-static-base", 7)
    assert check_dockerfile(text.replace("ARG CGO_ENABLED\n", "")) == ()
    assert (
        check_dockerfile(text.replace("ARG CGO_ENABLED\n", "ARG CGO_ENABLED\nENV CGO_ENABLED=0\n"))
        == ()
    )


RUN_FORMS = {
    "exec-sh-c": ('RUN ["sh", "-c", "CGO_ENABLED=1 go build -o /out/app ."]', "error"),
    "exec-go": ('RUN ["go", "build", "-o", "/out/app", "."]', "warning"),
    "heredoc-bash-shebang": (
        "RUN <<EOF\n#!/bin/bash\nCGO_ENABLED=1 go build -o /out/app .\nEOF",
        "error",
    ),
    "heredoc-python-not-shell": (
        "RUN <<EOF\n#!/usr/bin/env python3\nimport os\nos.system('CGO_ENABLED=0 true')\nEOF\n"
        "RUN CGO_ENABLED=1 go build -o /out/app .",
        "error",
    ),
    "default-expansion": ("RUN CGO_ENABLED=${CGO:-1} go build -o /out/app .", "error"),
    "default-from-env": ("ENV CGO=0\nRUN CGO_ENABLED=${CGO:-1} go build -o /out/app .", None),
    "stage-arg-in-env": ("ARG CGO_ENABLED=1\nRUN go build -o /out/app .", "error"),
    "env-beats-arg": ("ARG CGO_ENABLED=1\nENV CGO_ENABLED=0\nRUN go build -o /out/app .", None),
    "mount-cache-flag": (
        "RUN --mount=type=cache,target=/root/.cache/go-build CGO_ENABLED=0 go build -o /out/app .",
        None,
    ),
}


@pytest.mark.parametrize(("run", "severity"), list(RUN_FORMS.values()), ids=list(RUN_FORMS))
def test_run_forms(run: str, severity: str | None) -> None:
    text = f"FROM golang:1.22 AS b\n{run}\nFROM scratch\nCOPY --from=b /out/app /app\n"
    findings = check_dockerfile(text)
    assert [f.severity.value for f in findings] == ([severity] if severity else [])


def test_catalog_object_is_used_as_is(tmp_path: Path) -> None:
    """``load_catalog(extra)`` once, then pass the Catalog to every check (what the CLI does)."""
    extra = tmp_path / "bases.json"
    extra.write_text('{"bases": [{"match": ["mycorp/base"], "libc": "musl"}]}')
    catalog = load_catalog(extra)
    assert catalog.lookup("mycorp/base:7").libc is LibcFlavour.MUSL
    assert catalog.lookup("alpine").libc is LibcFlavour.MUSL  # the built-in entries remain
    text = (
        "FROM golang:1.22 AS b\nRUN CGO_ENABLED=1 go build -o /app .\n"
        "FROM mycorp/base:7\nCOPY --from=b /app /app\n"
    )
    ((rule, line),) = [(f.rule, f.line) for f in check_dockerfile(text, catalog=catalog)]
    assert (rule, line) == ("glibc-binary-on-musl-base", 4)
    assert check_dockerfile(text) == ()  # unknown base without the extra catalog: no finding
