"""Benchmark image reading: merged tree + opening every ELF file, next to ``gzip -dc``.

Builds (once, cached under the system temp dir) an OCI layout of real files copied from the
host with the test image builder, one gzip layer per directory, then runs each measurement in
its own child process under ``/usr/bin/time`` for wall time and peak RSS::

    .venv/bin/python tests/bench/bench_image.py [--compression gzip|zstd|plain] [DIR ...]

Default directories: /usr/lib/gcc, /usr/share/locale, /usr/lib/x86_64-linux-gnu (the ones
that exist), about 1 GB uncompressed on Debian 12 with many shared libraries.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

DEFAULT_DIRS = ("/usr/lib/gcc", "/usr/share/locale", "/usr/lib/x86_64-linux-gnu")

CHILD = """
import sys, time
from linkcheck.image import open_image
from linkcheck.model import FileType
start = time.perf_counter()
with open_image(sys.argv[1]) as archive:
    image = archive.load(archive.images[0])
    rootfs = image.rootfs
    built = time.perf_counter()
    entries = elf = read = 0
    for entry in rootfs.walk():
        entries += 1
        if entry.type is FileType.REGULAR and rootfs.head(entry.path) == b"\\x7fELF":
            with rootfs.open(entry.path) as f:
                read += len(f.read(4096))  # what an ELF header parser touches first
            elf += 1
    done = time.perf_counter()
print(f"{entries} {elf} {built - start:.2f} {done - built:.2f}")
"""


def _build(dirs: list[str], compression: str) -> Path:
    from tests.support.imagebuilder import ImageSpec, Layer, write_image

    key = hashlib.sha256(json.dumps([dirs, compression]).encode()).hexdigest()[:12]
    cache = Path(tempfile.gettempdir()) / "linkcheck-bench-image" / key
    image = cache / "oci"
    if (image / "index.json").exists():
        return image
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    layers = [Layer().add_tree(d, d) for d in dirs]
    started = time.perf_counter()
    write_image(ImageSpec(layers), image, "oci-layout", layer_compression=compression)  # type: ignore[arg-type]
    print(f"built {image} in {time.perf_counter() - started:.0f} s", flush=True)
    return image


def _timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS MiB (of the largest process), and stdout."""
    fd, report = tempfile.mkstemp(prefix="bench-time-")
    os.close(fd)
    try:
        out = subprocess.run(
            ["/usr/bin/time", "-o", report, "-f", "%e %M", *cmd],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        wall, rss_kib = Path(report).read_text().split()[-2:]
    finally:
        os.unlink(report)
    return float(wall), int(rss_kib) / 1024, out


def _layers(image: Path) -> list[Path]:
    index = json.loads((image / "index.json").read_text())
    blobs = image / "blobs" / "sha256"
    manifest = json.loads((blobs / index["manifests"][0]["digest"][7:]).read_text())
    return [blobs / layer["digest"][7:] for layer in manifest["layers"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", default=[d for d in DEFAULT_DIRS if Path(d).is_dir()])
    parser.add_argument("--compression", default="gzip", choices=["gzip", "zstd", "plain"])
    args = parser.parse_args()
    image = _build(args.dirs, args.compression)
    layers = _layers(image)
    size = sum(p.stat().st_size for p in layers)
    rows = []
    tool = {"gzip": ["gzip", "-dc"], "zstd": ["zstd", "-dcq"], "plain": ["cat"]}[args.compression]
    if shutil.which(tool[0]):
        quoted = " ".join(f"'{p}'" for p in layers)
        cmd = ["sh", "-c", f'for f in {quoted}; do {" ".join(tool)} "$f" >/dev/null; done']
        wall, rss, _ = _timed(cmd)
        rows.append((f"{' '.join(tool)} of the {len(layers)} layers", wall, rss, ""))
    env_python = [sys.executable, "-c", CHILD, str(image)]
    wall, rss, out = _timed(env_python)
    entries, elf, build_s, elf_s = out.split()
    note = f"{entries} entries, {elf} ELF; tree {build_s} s, ELF opens {elf_s} s"
    rows.append(("linkcheck: merged tree + open every ELF", wall, rss, note))
    wall, rss, _ = _timed([sys.executable, "-c", "import linkcheck.image"])
    rows.append(("python + import linkcheck.image (baseline)", wall, rss, ""))
    print(f"image: {image}  ({len(layers)} {args.compression} layers, {size / 2**20:.0f} MiB)")
    print(f"{'step':<46} {'wall s':>7} {'peak RSS MiB':>13}  notes")
    for name, wall, rss, note in rows:
        print(f"{name:<46} {wall:>7.2f} {rss:>13.0f}  {note}")


if __name__ == "__main__":
    main()
