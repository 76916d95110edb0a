"""Measure linkcheck's pyelftools adapter against raw pyelftools and LIEF on real ELF files.

Each parser extracts the same facts (PT_INTERP, DT_NEEDED/SONAME/RPATH/RUNPATH/FLAGS_1,
version needs and definitions, dynamic symbols) in a fresh worker process, so peak RSS is
its own:

* ``linkcheck``: ``parse_elf`` (pyelftools for headers, segments, dynamic tags, version
  tables and section lookup; ``.dynsym``/``.gnu.version`` decoded in bulk);
* ``pyelftools``: the same facts the obvious way, symbols through ``iter_symbols()``;
* ``pyelftools-nosym``: the same without the symbols, to show where pyelftools' time goes;
* ``lief``: LIEF's parser with relocations, the static symtab, notes and overlay off.

Run from the repository root::

    .venv/bin/python tests/bench/bench_elf.py [--limit N] [--huge PATH]

The numbers written in ``linkcheck/elf/__init__.py`` come from this script.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PARSERS = ("linkcheck", "pyelftools", "pyelftools-nosym", "lief")
HUGE = Path("/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1")


def corpus(limit: int) -> list[Path]:
    """Real ELF files: shared libraries first, then programs, deterministic order."""
    found: list[Path] = []
    for pattern in ("/usr/lib/x86_64-linux-gnu/*.so*", "/usr/bin/*"):
        for path in sorted(Path("/").glob(pattern.lstrip("/"))):
            if len(found) >= limit:
                return found
            if path.is_symlink() or not path.is_file() or path == HUGE:
                continue
            with path.open("rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(path)
    return found


def run_linkcheck(path: Path) -> int:
    from linkcheck.elf import parse_elf

    with path.open("rb") as f:
        info = parse_elf(f, name=str(path))
    return len(info.needed) + len(info.undefined_symbols or ()) + len(info.version_needs)


def run_pyelftools(path: Path, *, symbols: bool = True) -> int:
    from elftools.elf.dynamic import DynamicSegment
    from elftools.elf.elffile import ELFFile
    from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection
    from elftools.elf.segments import InterpSegment

    count = 0
    with path.open("rb") as f:
        elf = ELFFile(f)
        for seg in elf.iter_segments():
            if isinstance(seg, InterpSegment):
                count += len(seg.get_interp_name())
            if isinstance(seg, DynamicSegment):
                for tag in seg.iter_tags():
                    if tag.entry.d_tag in ("DT_NEEDED", "DT_SONAME", "DT_RPATH", "DT_RUNPATH"):
                        count += 1
                if symbols:
                    count += sum(1 for s in seg.iter_symbols() if s["st_shndx"] == "SHN_UNDEF")
        for section in elf.iter_sections():
            if isinstance(section, GNUVerNeedSection):
                for _need, auxs in section.iter_versions():
                    count += sum(1 for _ in auxs)
            elif isinstance(section, GNUVerDefSection):
                count += sum(1 for _ in section.iter_versions())
    return count


def run_lief(path: Path) -> int:
    import lief

    lief.logging.disable()
    config = lief.ELF.ParserConfig()
    config.parse_relocations = False
    config.parse_symtab_symbols = False
    config.parse_notes = False
    config.parse_overlay = False
    binary = lief.ELF.parse(str(path), config)
    if binary is None:
        return 0
    count = len(binary.interpreter) if binary.has_interpreter else 0
    count += len(binary.libraries)
    count += sum(1 for e in binary.dynamic_entries if e.tag == lief.ELF.DynamicEntry.TAG.RPATH)
    count += sum(1 for s in binary.dynamic_symbols if s.imported)
    count += sum(len(list(r.get_auxiliary_symbols())) for r in binary.symbols_version_requirement)
    count += len(list(binary.symbols_version_definition))
    return count


def run_pyelftools_nosym(path: Path) -> int:
    return run_pyelftools(path, symbols=False)


RUNNERS = {
    "linkcheck": run_linkcheck,
    "pyelftools": run_pyelftools,
    "pyelftools-nosym": run_pyelftools_nosym,
    "lief": run_lief,
}


def worker(parser: str, paths: list[Path]) -> dict[str, Any]:
    run = RUNNERS[parser]
    run(Path("/usr/bin/true"))  # import and warm up outside the timed loop
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times, failures = [], 0
    for path in paths:
        started = time.perf_counter()
        try:
            run(path)
        except Exception:
            failures += 1
        times.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "files": len(paths),
        "total_s": sum(times),
        "mean_ms": 1000 * statistics.mean(times),
        "median_ms": 1000 * statistics.median(times),
        "max_ms": 1000 * max(times),
        "peak_rss_mb": peak / 1024,
        "rss_growth_mb": (peak - base_rss) / 1024,
        "failures": failures,
    }


def spawn(parser: str, paths: list[Path]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", parser, *map(str, paths)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--huge", type=Path, default=HUGE)
    parser.add_argument("--worker")
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.paths)))
        return 0
    files = corpus(args.limit)
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} ELF files, {size:.0f} MB (/usr/lib/x86_64-linux-gnu, /usr/bin)")
    header = f"{'parser':16} {'mean ms':>8} {'median':>8} {'max ms':>8} {'total s':>8}"
    print(f"{header} {'peak RSS':>9} {'fail':>5}")
    for name in PARSERS:
        r = spawn(name, files)
        print(
            f"{name:16} {r['mean_ms']:8.2f} {r['median_ms']:8.2f} {r['max_ms']:8.1f} "
            f"{r['total_s']:8.2f} {r['peak_rss_mb']:7.0f}MB {r['failures']:5}"
        )
    if args.huge.exists():
        mb = args.huge.stat().st_size / 1e6
        print(f"\nhuge library: {args.huge} ({mb:.0f} MB), one file per fresh process")
        for name in PARSERS:
            r = spawn(name, [args.huge])
            print(
                f"{name:16} {r['mean_ms']:8.1f} ms  peak RSS {r['peak_rss_mb']:5.0f} MB "
                f"(+{r['rss_growth_mb']:.0f} MB over the warm-up)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
