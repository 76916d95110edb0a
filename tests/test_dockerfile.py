"""Table-driven checks of ``linkcheck.check_dockerfile`` over realistic Dockerfiles.

Each case is a committed file under fixtures/dockerfiles/; the table gives every finding it
must produce, exactly: (rule, severity, line, target stage). A case with () must be clean.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from linkcheck.dockerfile import RULE_IDS, DockerfileFinding, check_dockerfile
from linkcheck.model import Severity

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "dockerfiles"
E, W, N = Severity.ERROR, Severity.WARNING, Severity.INFO  # N: note (info)
DYN_STATIC = "dynamic-binary-on-static-base"
GLIBC_MUSL = "glibc-binary-on-musl-base"
MUSL_GLIBC = "musl-binary-on-glibc-base"
TOO_NEW = "glibc-too-new-for-base"
STATIC_LIBC = "static-binary-on-libc-base"

Expected = tuple[tuple[str, Severity, int, str], ...]
CASES: dict[str, Expected] = {
    # Go: CGO_ENABLED explicit, inherited, defaulted
    "go-cgo-default-distroless-static": ((DYN_STATIC, W, 10, "1"),),
    "go-cgo1-explicit-static": ((DYN_STATIC, E, 8, "1"),),
    "go-alpine-builder-scratch": (),
    "go-alpine-gcc-scratch": ((DYN_STATIC, W, 9, "1"),),
    "go-export-cgo0": (),
    "go-bare-assignment-not-exported": ((DYN_STATIC, W, 8, "1"),),
    "go-env-inherited-from-parent-stage": ((DYN_STATIC, E, 12, "2"),),
    "go-later-env-overrides": (),
    "go-pie-cgo0-scratch": ((DYN_STATIC, E, 9, "1"),),
    "go-extldflags-static": (),
    "go-netgo-osusergo": (),
    "go-buildplatform-targetarch": ((DYN_STATIC, W, 9, "1"),),
    "go-cross-literal-arm64": (),
    "go-native-literal-platform": ((DYN_STATIC, W, 7, "1"),),
    "go-glibc-on-alpine": ((GLIBC_MUSL, E, 8, "1"),),
    "go-glibc-too-new-bullseye": ((TOO_NEW, E, 8, "1"),),
    "go-glibc-too-new-ubi8": ((TOO_NEW, E, 8, "1"),),
    "go-global-arg-not-redeclared": ((DYN_STATIC, W, 11, "1"),),
    "go-global-arg-redeclared": (),
    "go-copy-from-index": ((DYN_STATIC, E, 7, "1"),),
    "go-two-targets": ((GLIBC_MUSL, E, 8, "debug"), (DYN_STATIC, E, 12, "prod")),
    "go-cgo0-on-debian-info": ((STATIC_LIBC, N, 6, "1"),),
    "go-heredoc": ((DYN_STATIC, E, 12, "1"),),
    "go-workdir-relative": ((DYN_STATIC, E, 8, "1"),),
    "go-cd-and-mv": ((DYN_STATIC, E, 9, "1"),),
    "go-runtime-stage-as-base": ((GLIBC_MUSL, E, 11, "2"),),
    "go-unknown-base": (),
    "go-from-default-expansion": ((GLIBC_MUSL, E, 9, "1"),),
    "intermediate-copy-stage": ((DYN_STATIC, E, 13, "2"),),
    "go-gcompat-alpine": ((GLIBC_MUSL, W, 9, "1"),),
    "go-scratch-hand-copied-libs": ((DYN_STATIC, W, 9, "1"),),
    "go-static-script-entrypoint": (),
    "go-dir-output-on-path": ((DYN_STATIC, E, 8, "1"), (DYN_STATIC, E, 8, "1")),
    "go-static-on-debian-exec-name": ((STATIC_LIBC, N, 6, "1"),),
    "go-makefile": (),
    "go-goos-linux-is-native": ((DYN_STATIC, W, 8, "1"),),
    # Rust
    "rust-gnu-distroless-static": ((DYN_STATIC, E, 8, "1"),),
    "rust-musl-target-scratch": (),
    "rust-alpine-scratch": (),
    "rust-alpine-apk-cargo-scratch": ((DYN_STATIC, E, 9, "1"),),
    "rust-crt-static-gnu": (),
    "rust-gnu-on-alpine": ((GLIBC_MUSL, E, 16, "runtime"),),
    "rust-trixie-on-bookworm": ((TOO_NEW, W, 9, "1"),),
    "rust-bookworm-on-bullseye": ((TOO_NEW, E, 7, "1"),),
    "rust-cargo-install-root": (),
    "rust-zigbuild-old-glibc": (),
    # C / C++
    "c-gcc-dynamic-scratch": ((DYN_STATIC, E, 7, "1"),),
    "c-gcc-static-debian-info": ((STATIC_LIBC, N, 7, "1"),),
    "c-musl-gcc-on-glibc": ((MUSL_GLIBC, E, 8, "1"),),
    "c-alpine-build-base-on-debian": ((MUSL_GLIBC, E, 8, "1"),),
    "c-alpine-to-alpine": (),
    "c-static-pie-distroless": (),
    "c-musl-on-debian-with-musl": (),
    "c-make-scratch": ((DYN_STATIC, W, 10, "1"),),
    "c-make-ldflags-static": (),
    "cpp-cmake-alpine-to-debian": ((MUSL_GLIBC, W, 10, "1"),),
    "wolfi-musl-binary": ((MUSL_GLIBC, E, 7, "1"),),
    # Python
    "python-venv-glibc-to-alpine": ((GLIBC_MUSL, W, 8, "1"),),
    "python-slim-to-slim": (),
    "python-pyinstaller-static": ((DYN_STATIC, E, 8, "1"),),
    # several toolchains, five stages
    "five-stage-mixed": ((GLIBC_MUSL, E, 26, "4"), (GLIBC_MUSL, E, 27, "4")),
    # parser edges: BuildKit's parser decides lines and continuations
    "edge-escape-backtick": ((DYN_STATIC, E, 12, "1"),),
    "edge-lowercase-comments": ((DYN_STATIC, E, 11, "1"),),
    "edge-heredoc-bash": (),
    "edge-bom-crlf": ((DYN_STATIC, E, 8, "1"),),
}


def _summary(findings: tuple[DockerfileFinding, ...]) -> tuple[tuple[str, Severity, int, str], ...]:
    return tuple((f.rule, f.severity, f.line, f.stage or "") for f in findings)


@pytest.mark.parametrize(("name", "expected"), list(CASES.items()), ids=list(CASES))
def test_fixture(name: str, expected: Expected) -> None:
    findings = check_dockerfile(FIXTURES / f"{name}.Dockerfile")
    assert _summary(findings) == expected
    for finding in findings:
        assert finding.rule in RULE_IDS
        assert finding.message and finding.hint


def test_every_fixture_is_in_the_table() -> None:
    assert sorted(p.stem for p in FIXTURES.glob("*.Dockerfile")) == sorted(CASES)


def test_text_and_path_give_the_same_findings() -> None:
    path = FIXTURES / "go-two-targets.Dockerfile"
    assert check_dockerfile(path.read_text()) == check_dockerfile(path)
    assert check_dockerfile(str(path)) == check_dockerfile(path)


def test_go_default_cgo_message_says_why() -> None:
    (finding,) = check_dockerfile(FIXTURES / "go-cgo-default-distroless-static.Dockerfile")
    assert "CGO_ENABLED unset" in finding.message
    assert "golang:1.22-bookworm has a C compiler" in finding.message
    assert finding.hint == (
        "rebuild with CGO_ENABLED=0, or use a glibc-dynamic base such as "
        "gcr.io/distroless/base-debian12"
    )


def test_too_new_hint_names_the_matching_builder() -> None:
    (finding,) = check_dockerfile(FIXTURES / "go-glibc-too-new-bullseye.Dockerfile")
    assert "glibc 2.36" in finding.message and "glibc 2.31" in finding.message
    assert finding.hint == "build on golang:<version>-bullseye, or use a base with glibc >= 2.36"


def test_info_not_given_when_the_final_stage_runs_commands() -> None:
    text = (FIXTURES / "go-cgo0-on-debian-info.Dockerfile").read_text()
    text = text.replace("COPY --from", "RUN apt-get update\nCOPY --from")
    assert check_dockerfile(text) == ()


def test_info_not_given_for_shell_form_entrypoint() -> None:
    text = (FIXTURES / "go-cgo0-on-debian-info.Dockerfile").read_text()
    text = text.replace('ENTRYPOINT ["/usr/local/bin/app"]', "ENTRYPOINT /usr/local/bin/app")
    assert check_dockerfile(text) == ()
