"""``linkcheck.analyze`` and ``linkcheck analyze`` on real images (test builder, every format)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest

from linkcheck.analysis import analyze
from linkcheck.cli import main
from linkcheck.errors import SelectionError
from linkcheck.model import Libc, LibraryStatus, Platform, Report, Verdict
from linkcheck.render.json import SCHEMA, report_to_json
from linkcheck.render.text import render_text
from tests.support.imagebuilder import FORMATS, ImageSpec, Layer, write_image

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from tests.support.binaries import Binaries


def app_layer(b: Binaries, name: str, dest: str = "/app", mode: int = 0o755) -> Layer:
    return Layer().file(dest, b.path(name).read_bytes(), mode=mode)


def image(
    tmp_path: Path,
    specs: ImageSpec | Sequence[ImageSpec],
    fmt: str = "docker-archive",
    name: str = "app.tar",
) -> Path:
    return write_image(specs, tmp_path / name, fmt, tags=["example/app:1"])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def glibc_layer(base_glibc: Path) -> Layer:
    return Layer().add_tree(base_glibc)


@pytest.fixture(scope="module")
def static_layer(base_static: Path) -> Layer:
    return Layer().add_tree(base_static)


@pytest.fixture(scope="module")
def arm64_layer(base_arm64_glibc: Path) -> Layer:
    return Layer().add_tree(base_arm64_glibc)


@pytest.mark.parametrize("fmt", FORMATS, ids=FORMATS)
def test_pass_in_every_format(
    tmp_path: Path, fixture_binaries: Binaries, glibc_layer: Layer, fmt: str
) -> None:
    spec = ImageSpec([glibc_layer, app_layer(fixture_binaries, "cxx-dynamic")], entrypoint=["/app"])
    report = analyze(image(tmp_path, spec, fmt, "app" if fmt == "oci-layout" else "app.tar"))
    (p,) = report.platforms
    assert (report.verdict, p.verdict, p.findings) == (Verdict.PASS, Verdict.PASS, ())
    assert report.image.names == ("example/app:1",)
    tree = p.entrypoint.chain[0].libraries
    assert tree is not None
    assert [(n.name, n.status, n.path) for n in tree.children] == [
        ("libstdc++.so.6", LibraryStatus.FOUND, "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"),
        ("libgcc_s.so.1", LibraryStatus.FOUND, "/lib/x86_64-linux-gnu/libgcc_s.so.1"),
        ("libc.so.6", LibraryStatus.FOUND, "/lib/x86_64-linux-gnu/libc.so.6"),
    ]
    assert tree.children[0].layer == 0  # from the base layer


def test_layer_is_recorded(tmp_path: Path, fixture_binaries: Binaries, glibc_layer: Layer) -> None:
    spec = ImageSpec([glibc_layer, app_layer(fixture_binaries, "c-dynamic")], entrypoint=["/app"])
    (p,) = analyze(image(tmp_path, spec)).platforms
    exe = p.entrypoint.chain[0]
    assert (exe.layer, exe.libraries and exe.libraries.children[0].layer) == (1, 0)


def test_multi_platform_index_reports_each_platform(
    tmp_path: Path,
    fixture_binaries: Binaries,
    glibc_layer: Layer,
    arm64_layer: Layer,
) -> None:
    amd64 = ImageSpec([glibc_layer, app_layer(fixture_binaries, "c-dynamic")], entrypoint=["/app"])
    arm64 = ImageSpec(
        [arm64_layer, app_layer(fixture_binaries, "c-dynamic")],  # the amd64 build, by mistake
        entrypoint=["/app"],
        platform="linux/arm64",
    )
    path = image(tmp_path, [amd64, arm64], "oci-archive")
    report = analyze(path)
    assert [(str(p.platform), p.verdict) for p in report.platforms] == [
        ("linux/amd64", Verdict.PASS),
        ("linux/arm64", Verdict.FAIL),
    ]
    assert [f.rule for f in report.platforms[1].findings] == ["arch-mismatch"]
    only = analyze(path, platform="linux/arm64")
    assert [str(p.platform) for p in only.platforms] == ["linux/arm64"]
    with pytest.raises(SelectionError):
        analyze(path, platform="linux/s390x")


def test_overrides_like_docker_run(
    tmp_path: Path, fixture_binaries: Binaries, glibc_layer: Layer
) -> None:
    spec = ImageSpec(
        [glibc_layer, app_layer(fixture_binaries, "c-libfoo")],
        entrypoint=["/nothere"],
        cmd=["--flag"],
    )
    path = image(tmp_path, spec)
    (p,) = analyze(path).platforms
    assert [f.rule for f in p.findings] == ["entrypoint-not-found"]
    assert p.entrypoint.argv == ("/nothere", "--flag")
    (p,) = analyze(path, entrypoint=["/app"]).platforms
    assert p.entrypoint.argv == ("/app",)  # the image's Cmd goes with its Entrypoint
    assert [f.rule for f in p.findings] == ["missing-library"]
    (p,) = analyze(path, entrypoint=["/app"], cmd=["x"]).platforms
    assert p.entrypoint.argv == ("/app", "x")


def test_env_override_reaches_the_loader(
    tmp_path: Path, fixture_binaries: Binaries, glibc_layer: Layer
) -> None:
    spec = ImageSpec(
        [
            glibc_layer,
            app_layer(fixture_binaries, "c-libfoo").file(
                "/opt/foo/libfoo.so.1", fixture_binaries.path("libfoo.so.1").read_bytes()
            ),
        ],
        entrypoint=["/app"],
    )
    path = image(tmp_path, spec)
    assert analyze(path).verdict is Verdict.FAIL
    assert analyze(path, env={"LD_LIBRARY_PATH": "/opt/foo"}).verdict is Verdict.PASS


def test_stream_source(tmp_path: Path, fixture_binaries: Binaries, static_layer: Layer) -> None:
    spec = ImageSpec([static_layer, app_layer(fixture_binaries, "go-static")], entrypoint=["/app"])
    data = image(tmp_path, spec).read_bytes()
    report = analyze(io.BytesIO(data))
    assert report.image.source == "<stream>"
    assert report.verdict is Verdict.PASS
    assert report.platforms[0].base.libc is Libc.NONE


# -- rendering -------------------------------------------------------------------------------


@pytest.fixture
def failing(tmp_path: Path, fixture_binaries: Binaries, static_layer: Layer) -> Report:
    spec = ImageSpec([static_layer, app_layer(fixture_binaries, "go-cgo")], entrypoint=["/app"])
    return analyze(image(tmp_path, spec))


def test_json_schema(failing: Report) -> None:
    # What a consumer sees: parsed JSON text, walked without static types.
    doc: Any = json.loads(json.dumps(report_to_json(failing)))
    assert list(doc) == ["schema", "image", "platforms"]
    assert doc["schema"] == SCHEMA == "linkcheck/report/v1"
    (platform,) = doc["platforms"]
    assert list(platform) == ["platform", "verdict", "base", "entrypoint", "findings", "scanned"]
    assert (platform["platform"], platform["verdict"]) == ("linux/amd64", "fail")
    assert platform["base"] == {
        "libc": "none",
        "libc_version": None,
        "interpreters": [],
        "sonames": [],
        "os_release": None,
    }
    (finding,) = platform["findings"]
    assert list(finding) == ["rule", "severity", "path", "message", "hint", "detail"]
    assert (finding["rule"], finding["severity"], finding["path"]) == (
        "missing-interpreter",
        "error",
        "/app",
    )
    assert finding["detail"]["interpreter"] == "/lib64/ld-linux-x86-64.so.2"
    entry = platform["entrypoint"]
    assert entry["argv"] == ["/app"]
    (exe,) = entry["chain"]
    assert (exe["kind"], exe["linkage"], exe["libc"], exe["cgo_enabled"]) == (
        "elf",
        "dynamic",
        "glibc",
        True,
    )
    assert exe["libraries"]["children"][0]["status"] == "not-found"


def test_text_report(failing: Report) -> None:
    text = render_text(failing)
    assert "linux/amd64: FAIL" in text
    assert "base: static (no libc, no loader)" in text
    assert "        /app (interpreter => /lib64/ld-linux-x86-64.so.2)\n" in text
    assert "            libc.so.6 => not found\n" in text
    assert "  error: missing-interpreter: /app is dynamically linked" in text
    assert "    fix: rebuild with CGO_ENABLED=0, or use a glibc-dynamic base" in text


# -- the command -----------------------------------------------------------------------------


def test_cli_exit_codes_and_json(
    tmp_path: Path,
    fixture_binaries: Binaries,
    static_layer: Layer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    good = ImageSpec([static_layer, app_layer(fixture_binaries, "go-static")], entrypoint=["/app"])
    bad = ImageSpec([static_layer, app_layer(fixture_binaries, "go-cgo")], entrypoint=["/app"])
    good_path = image(tmp_path, good, name="good.tar")
    bad_path = image(tmp_path, bad, name="bad.tar")
    assert main(["analyze", str(good_path)]) == 0
    assert "linux/amd64: PASS" in capsys.readouterr().out
    assert main(["analyze", str(bad_path), "--format", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["platforms"][0]["findings"][0]["rule"] == "missing-interpreter"
    assert main(["analyze", str(tmp_path / "nope.tar")]) == 3
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["analyze", str(good_path), "--platform", "amd64"]) == 2
    assert main(["analyze", str(good_path), "--env", "NOEQUALS"]) == 2


def test_cli_entrypoint_cmd_env_and_all(
    tmp_path: Path,
    fixture_binaries: Binaries,
    glibc_layer: Layer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    spec = ImageSpec(
        [
            glibc_layer,
            app_layer(fixture_binaries, "c-dynamic")
            .file("/usr/bin/tool", fixture_binaries.path("c-libfoo").read_bytes(), mode=0o755)
            .file("/opt/foo/libfoo.so.1", fixture_binaries.path("libfoo.so.1").read_bytes()),
        ],
        entrypoint=["/nothere"],
        cmd=["a"],
    )
    path = str(image(tmp_path, spec))
    assert main(["analyze", path]) == 1
    capsys.readouterr()
    argv = ["analyze", path, "--entrypoint", "/app", "-f", "json", "--", "x", "y"]
    assert main(argv) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["platforms"][0]["entrypoint"]["argv"] == ["/app", "x", "y"]
    assert main(["analyze", path, "--entrypoint", "/usr/bin/tool"]) == 1
    capsys.readouterr()
    argv = ["analyze", path, "--entrypoint", "/usr/bin/tool", "--env", "LD_LIBRARY_PATH=/opt/foo"]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["analyze", path, "--entrypoint", "/app", "--all", "-f", "json"]) == 0  # a warning
    doc = json.loads(capsys.readouterr().out)
    assert doc["platforms"][0]["verdict"] == "warn"
    assert [(f["rule"], f["path"]) for f in doc["platforms"][0]["findings"]] == [
        ("missing-library", "/usr/bin/tool")
    ]


def test_cli_reads_stdin(tmp_path: Path, fixture_binaries: Binaries, static_layer: Layer) -> None:
    spec = ImageSpec([static_layer, app_layer(fixture_binaries, "go-static")], entrypoint=["/app"])
    data = image(tmp_path, spec).read_bytes()
    code = "import sys; from linkcheck.cli import main; sys.exit(main(['analyze', '-']))"
    run = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True)
    assert run.returncode == 0, run.stderr
    assert b"linux/amd64: PASS" in run.stdout


def test_platform_argument_types(
    tmp_path: Path, fixture_binaries: Binaries, static_layer: Layer
) -> None:
    spec = ImageSpec([static_layer, app_layer(fixture_binaries, "go-static")], entrypoint=["/app"])
    path = image(tmp_path, spec)
    assert analyze(path, platform=Platform("linux", "amd64")).verdict is Verdict.PASS
    assert analyze(path, platform="linux/amd64", name="example/app:1").verdict is Verdict.PASS
