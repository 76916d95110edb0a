"""`make bench`: time and peak memory of linkcheck on a few-hundred-MB image of real files.

Builds once (cached under the system temp dir) an OCI layout from this machine's own files:
``/usr/lib/x86_64-linux-gnu`` (a gzip layer of ~670 MB of real libraries), the loader and
``/etc/ld.so.cache``, and a few dynamically linked programs from ``/usr/bin`` with skopeo
(Go with cgo, a dozen libraries) as the entrypoint. Then, each in a fresh child process:

- ``gzip -dc`` of every layer (the floor: inflating the bytes once);
- ``linkcheck analyze`` (entrypoint closure only);
- ``linkcheck analyze --all`` (every ELF file in the image);

and prints wall time and peak RSS, followed by the ELF parser and image reader benchmarks
(tests/bench/bench_elf.py, tests/bench/bench_image.py). Nothing here is asserted: speed and
memory targets are read from these numbers, not from timed unit tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

LIBDIR = Path("/usr/lib/x86_64-linux-gnu")
PROGRAMS = ("skopeo", "umoci", "buildah", "gpg", "git", "ssh", "curl", "python3")
ENTRYPOINT = "/usr/bin/skopeo"


def build_image() -> Path:
    from tests.support.imagebuilder import ImageSpec, Layer, write_image

    cache = Path(tempfile.gettempdir()) / "linkcheck-bench-analyze"
    image = cache / "oci"
    if (image / "index.json").exists():
        return image
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    base = Layer().symlink("/lib", "usr/lib").symlink("/lib64", "usr/lib64")
    base.add_tree(LIBDIR, str(LIBDIR))
    loader = Path("/usr/lib64/ld-linux-x86-64.so.2")
    top = Layer().dir("/usr/lib64").symlink(str(loader), os.readlink(loader))
    top.file("/etc/ld.so.cache", Path("/etc/ld.so.cache").read_bytes(), mode=0o644)
    for name in PROGRAMS:
        found = shutil.which(name, path="/usr/bin")
        if found:
            top.file(f"/usr/bin/{name}", Path(found).read_bytes(), mode=0o755)
    spec = ImageSpec(layers=[base, top], entrypoint=[ENTRYPOINT], cmd=["--version"])
    started = time.perf_counter()
    write_image(spec, image, "oci-layout", layer_compression="gzip", gzip_level=6)
    print(f"built {image} in {time.perf_counter() - started:.0f} s", flush=True)
    return image


# Runs the command and reports its own children's peak RSS on stderr, so each measurement is
# of one command only (RUSAGE_CHILDREN in this process would be the max over all of them).
_WRAPPER = """
import resource, subprocess, sys
out = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, check=False).stdout
sys.stdout.buffer.write(out)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr)
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MiB of the command's processes, and its stdout."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *cmd], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - started
    peak_kib = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kib / 1024, proc.stdout


def layers_of(image: Path) -> list[Path]:
    blobs = image / "blobs" / "sha256"
    index = json.loads((image / "index.json").read_text())
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
    return [blobs / layer["digest"][7:] for layer in manifest["layers"]]


def main() -> None:
    image = build_image()
    layers = layers_of(image)
    size = sum(p.stat().st_size for p in layers) / 2**20
    linkcheck = [sys.executable, "-m", "linkcheck.cli", "analyze", "--format", "json"]
    quoted = " ".join(f"'{p}'" for p in layers)
    rows = [
        ("gzip -dc of every layer", *timed(["sh", "-c", f"cat {quoted} | gzip -dc >/dev/null"]))
    ]
    rows.append(("linkcheck analyze", *timed([*linkcheck, str(image)])))
    rows.append(("linkcheck analyze --all", *timed([*linkcheck, "--all", str(image)])))
    print(f"\nimage: {image} ({len(layers)} gzip layers, {size:.0f} MiB compressed)")
    print(f"{'step':<28} {'wall s':>7} {'peak RSS MiB':>13}  result")
    for name, wall, rss, out in rows:
        result = ""
        if out.startswith("{"):
            (platform,) = json.loads(out)["platforms"]
            result = f"{platform['verdict']}, {platform.get('scanned', 0)} other ELF files"
        print(f"{name:<28} {wall:>7.2f} {rss:>13.0f}  {result}")
    print("\n# ELF parsers (tests/bench/bench_elf.py --limit 400)", flush=True)
    subprocess.run([sys.executable, str(REPO / "tests/bench/bench_elf.py"), "--limit", "400"],
                   check=False)  # fmt: skip
    print("\n# image reader (tests/bench/bench_image.py)", flush=True)
    subprocess.run([sys.executable, str(REPO / "tests/bench/bench_image.py")], check=False)


if __name__ == "__main__":
    main()
