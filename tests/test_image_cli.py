"""``linkcheck inspect``: output, exit codes 0/2/3, one ``error:`` line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from linkcheck.cli import main
from tests.support.imagebuilder import ImageSpec, Layer, write_image

if TYPE_CHECKING:
    from pathlib import Path
    from typing import IO


@pytest.fixture
def image(tmp_path: Path) -> Path:
    specs = [
        ImageSpec(
            [Layer().file("/app", b"\x7fELF"), Layer(compression="gzip").file("/b", b"b")],
            entrypoint=["/app"],
            cmd=["--port", "8080"],
            env=["PATH=/bin"],
            working_dir="/srv",
            user="nobody",
            platform=platform,
        )
        for platform in ("linux/amd64", "linux/arm64/v8")
    ]
    return write_image(specs, tmp_path / "app.tar", "oci-archive", tags=["app:1"], attestation=True)


def test_inspect_text(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(image), "--platform", "linux/arm64"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Images in the archive (2):"
    assert out[1].startswith("  linux/amd64      sha256:") and out[1].endswith("  app:1")
    assert out[4:12] == [
        "Image app:1 (linux/arm64/v8)",
        out[5],
        "  Platform:    linux/arm64/v8",
        '  Entrypoint:  ["/app"]',
        '  Cmd:         ["--port", "8080"]',
        "  Argv:        /app --port 8080",
        "  WorkingDir:  /srv",
        "  User:        nobody",
    ]
    assert out[-3] == "  Layers (2):"
    assert out[-2].split()[2] == "none" and out[-1].split()[2] == "gzip"


def test_inspect_json(image: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(image), "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["version"] == 1
    assert [i["platform"] for i in doc["images"]] == ["linux/amd64", "linux/arm64/v8"]
    first = doc["selected"][0]
    assert first["argv"] == ["/app", "--port", "8080"]
    assert first["config"] == {
        "os": "linux",
        "architecture": "amd64",
        "variant": None,
        "entrypoint": ["/app"],
        "cmd": ["--port", "8080"],
        "env": ["PATH=/bin"],
        "working_dir": "/srv",
        "user": "nobody",
        "labels": {},
    }
    assert [layer["compression"] for layer in first["layers"]] == ["none", "gzip"]


def _run(
    args: list[str], stdin: int | IO[bytes] | None = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "linkcheck.cli", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stdin_through_a_pipe(image: Path) -> None:
    with image.open("rb") as src:
        cat = subprocess.Popen(["cat"], stdin=src, stdout=subprocess.PIPE)
        result = _run(["inspect", "-", "--platform", "linux/amd64", "-f", "json"], cat.stdout)
        cat.wait()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["selected"][0]["platform"] == "linux/amd64"


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["inspect", "{image}", "--platform", "linux/s390x"], 3,
         "error: no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8\n"),
        (["inspect", "{image}", "--name", "other"], 3,
         "error: no image named 'other'; choices: app:1\n"),
        (["inspect", "{tmp}/missing.tar"], 3,
         "error: cannot read {tmp}/missing.tar: No such file or directory\n"),
        (["inspect", "{tmp}/fifo"], 3,
         "error: {tmp}/fifo: a named pipe; give an image tarball or directory, or - to read"
         " stdin\n"),
        (["inspect", "{tmp}"], 3, "error: {tmp}: not an OCI layout directory (no oci-layout)"
         " nor an unpacked docker-archive (no manifest.json)\n"),
        (["inspect", "-"], 3, "error: <stdin>: empty input\n"),
        (["inspect", "{image}", "--platform", "amd64"], 2, None),
        (["inspect", "{image}", "--format", "yaml"], 2, None),
        (["inspect"], 2, None),
    ],
    ids=["no-platform", "no-name", "missing", "fifo", "plain-dir", "empty-stdin", "bad-platform",
         "bad-format", "no-argument"],
)  # fmt: skip
def test_exit_codes(
    image: Path, tmp_path: Path, args: list[str], code: int, stderr: str | None
) -> None:
    os.mkfifo(tmp_path / "fifo")
    fill = {"image": str(image), "tmp": str(tmp_path)}
    result = _run([a.format(**fill) for a in args])
    assert result.returncode == code
    assert "Traceback" not in result.stderr
    if stderr is not None:
        assert result.stderr == stderr.format(**fill)


def test_corrupt_layer_is_one_error_line(tmp_path: Path) -> None:
    spec = ImageSpec([Layer().file("/x", b"x" * 5000)])
    path = write_image(spec, tmp_path / "d.tar", "docker-archive")
    data = bytearray(path.read_bytes())
    data[data.find(b"x" * 5000) + 10] ^= 1
    path.write_bytes(bytes(data))
    # inspect reads configs only; the layer is read by whoever builds the rootfs
    assert _run(["inspect", str(path)]).returncode == 0
    code = (
        "import sys\n"
        "from linkcheck.image import open_image\n"
        "from linkcheck.errors import LinkcheckError\n"
        "try:\n"
        "    with open_image(sys.argv[1]) as a:\n"
        "        a.load(a.images[0]).rootfs\n"
        "except LinkcheckError as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert out.startswith("IntegrityError layer 0 (sha256:")
