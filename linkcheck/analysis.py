"""``analyze``: will this image's entrypoint start? The one function the CLI calls.

:func:`analyze` opens an image (any format ``linkcheck.image`` reads) and runs
:func:`analyze_rootfs` on every selected platform. :func:`analyze_rootfs` does the work on any
:class:`~linkcheck.model.FileSystem` and :class:`~linkcheck.model.ImageConfig`, so tests can
hand it a real directory: resolve the entrypoint as runc would, build each exec'd ELF file's
loader closure with the image's own loader rules, characterise the base, run the rules.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, BinaryIO

from linkcheck.checks import Facts, Scope, Target, run_checks
from linkcheck.elf.info import Linkage
from linkcheck.entrypoints import parse_shebang, resolve_entrypoint
from linkcheck.image import open_image
from linkcheck.loader.glibc import detect_layout
from linkcheck.loader.musl import MuslSearch
from linkcheck.loader.objects import FileKind, ObjectFile, ObjectReader
from linkcheck.loader.resolver import Closure, Resolver, libc_flavour
from linkcheck.model import (
    BaseInfo,
    EntrypointInfo,
    ExecutedFile,
    FileType,
    ImageInfo,
    Libc,
    LibraryNode,
    LibraryStatus,
    Platform,
    PlatformReport,
    Report,
    Verdict,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from linkcheck.entrypoints import EntrypointResolution, ExecStep
    from linkcheck.loader.types import LoadedObject
    from linkcheck.model import FileSystem, ImageConfig

__all__ = ["analyze", "analyze_rootfs", "characterise_base", "library_tree"]

# Loader paths by OCI architecture (glibc's and musl's PT_INTERP names per ABI).
KNOWN_LOADERS: dict[str, tuple[str, ...]] = {
    "amd64": ("/lib64/ld-linux-x86-64.so.2", "/lib/ld-musl-x86_64.so.1"),
    "arm64": ("/lib/ld-linux-aarch64.so.1", "/lib/ld-musl-aarch64.so.1"),
    "386": ("/lib/ld-linux.so.2", "/lib/ld-musl-i386.so.1"),
    "arm": ("/lib/ld-linux-armhf.so.3", "/lib/ld-linux.so.3", "/lib/ld-musl-armhf.so.1"),
    "ppc64le": ("/lib64/ld64.so.2", "/lib/ld-musl-powerpc64le.so.1"),
    "s390x": ("/lib/ld64.so.1", "/lib/ld-musl-s390x.so.1"),
    "riscv64": ("/lib/ld-linux-riscv64-lp64d.so.1", "/lib/ld-musl-riscv64.so.1"),
}
_GLIBC_VERSION_RE = re.compile(rb"GNU C Library [^\n\x00]*?version (\d+\.\d+(?:\.\d+)?)")
# musl keeps its version as a bare string next to "Version %s" (ldso prints it as ldd).
_MUSL_VERSION_RE = re.compile(rb"\x00(\d+\.\d+\.\d+)\x00")
_LIBRARY_NAME_RE = re.compile(r"\.so(\.[0-9.]+)?$")
_SONAME_RE = re.compile(r"^(lib.*|ld-.*)\.so(\.[0-9.]+)?$")
_SCAN_SKIP = ("/proc/", "/sys/", "/dev/")
_MAX_TREE_DEPTH = 64


def analyze(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    platform: str | Platform | None = None,
    name: str | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    scan_all: bool = False,
) -> Report:
    """Analyse every platform of the image in ``source`` (or only ``platform``).

    ``entrypoint``/``cmd`` override the config like ``docker run --entrypoint`` and
    Kubernetes ``command``/``args``; ``env`` adds to the config's Env (``docker run -e``).
    Raises :class:`~linkcheck.errors.LinkcheckError` when the image cannot be read.
    """
    wanted = Platform.parse(platform) if isinstance(platform, str) else platform
    label = os.fspath(source) if isinstance(source, str | os.PathLike) else "<stream>"
    reports: list[PlatformReport] = []
    with open_image(source) as archive:
        refs = archive.select(platform=wanted, name=name)
        for ref in refs:
            image = archive.load(ref)
            layer_ids = tuple(layer.digest or layer.diff_id for layer in image.layers)
            report = analyze_rootfs(
                image.rootfs,
                image.config,
                platform=ref.platform,
                entrypoint=entrypoint,
                cmd=cmd,
                env=env,
                scan_all=scan_all,
                layer_ids=layer_ids,
                digest=ref.digest,
            )
            reports.append(report)
    digest = refs[0].digest if len(refs) == 1 else None
    return Report(ImageInfo(label, refs[0].names, digest), tuple(reports))


def analyze_rootfs(
    fs: FileSystem,
    config: ImageConfig,
    *,
    platform: Platform | None = None,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    scan_all: bool = False,
    layer_ids: Sequence[str] = (),
    digest: str | None = None,
) -> PlatformReport:
    """The whole analysis of one root filesystem with its config."""
    plat = platform or config.platform
    reader = ObjectReader(fs)
    resolution = resolve_entrypoint(reader, config, entrypoint=entrypoint, cmd=cmd, env=env)
    resolver = Resolver(
        reader,
        ld_library_path=resolution.env_value("LD_LIBRARY_PATH"),
        cwd=resolution.working_dir,
    )
    base = characterise_base(reader, resolver, plat)
    targets = list(_entrypoint_targets(resolver, resolution))
    scanned = 0
    if scan_all:
        extra = _scan_targets(reader, resolver, base, targets)
        scanned = len(extra)
        targets += extra
    facts = Facts(plat, resolution, tuple(targets), base, tuple(layer_ids))
    findings = run_checks(facts)
    return PlatformReport(
        platform=plat,
        verdict=Verdict.of(findings),
        base=base,
        entrypoint=_entrypoint_info(config, resolution, targets),
        findings=findings,
        scanned=scanned,
        digest=digest,
    )


def _entrypoint_targets(resolver: Resolver, resolution: EntrypointResolution) -> Iterator[Target]:
    for step in resolution.steps:
        file = step.file
        if file is None or step.problem is not None:
            continue
        if file.kind is FileKind.ELF:
            yield Target(file, resolver.closure(file), Scope.ENTRYPOINT, step)
        elif file.kind is FileKind.MALFORMED_ELF:
            yield Target(file, None, Scope.ENTRYPOINT, step)


def _scan_targets(
    reader: ObjectReader, resolver: Resolver, base: BaseInfo, checked: Sequence[Target]
) -> list[Target]:
    """Every other ELF program and library: files with an x bit or a library name.

    Programs first, each with its own closure. A library loaded by some program was checked
    in that program's context (its RPATH, what was already loaded); only libraries no program
    loads (plugins, dlopen()ed modules) are checked on their own, where the search context
    is a guess: their findings are SCAN_LIBRARY (info, see Target.severity).
    """
    loader = base.interpreters[0] if base.interpreters else None
    done = {t.file.real_path for t in checked}
    programs: list[Target] = []
    libraries: list[ObjectFile] = []
    for file in _scan_files(reader, done):
        info = file.info
        if info is None:
            programs.append(Target(file, None, Scope.SCAN_ALL))  # malformed
        elif info.interp is not None or info.linkage in (Linkage.STATIC, Linkage.STATIC_PIE):
            programs.append(Target(file, resolver.closure(file), Scope.SCAN_ALL))
        else:
            libraries.append(file)
    reached = {o.real_path for t in (*checked, *programs) if t.closure for o in t.closure.objects}
    alone = [
        Target(f, resolver.closure(f, loader=loader) if f.info and f.info.needed else None,
               Scope.SCAN_LIBRARY)
        for f in libraries
        if f.real_path not in reached
    ]  # fmt: skip
    return programs + alone


def _scan_files(reader: ObjectReader, done: set[str]) -> Iterator[ObjectFile]:
    for entry in reader.fs.walk():
        if entry.type is not FileType.REGULAR or entry.path.startswith(_SCAN_SKIP):
            continue
        name = entry.path.rsplit("/", 1)[-1]
        if not (entry.mode & 0o111 or _LIBRARY_NAME_RE.search(name)):
            continue
        file = reader.read(entry.path)
        if file.real_path in done:
            continue
        done.add(file.real_path)
        loadable = file.info is not None and file.info.e_type in (2, 3)  # ET_EXEC, ET_DYN
        if loadable or file.kind is FileKind.MALFORMED_ELF:
            yield file


def characterise_base(reader: ObjectReader, resolver: Resolver, platform: Platform) -> BaseInfo:
    """The base's libc flavour and version, its loaders and the sonames it offers."""
    fs = reader.fs
    loaders = _loaders(reader, platform.architecture)
    flavours = {path: libc_flavour(path, reader.read(path).real_path) for path in loaders}
    glibc_loader = next((p for p, f in flavours.items() if f is Libc.GLIBC), None)
    musl_loader = next((p for p, f in flavours.items() if f is Libc.MUSL), None)
    libc: Libc = Libc.NONE
    version: str | None = None
    sonames: tuple[str, ...] = ()
    if glibc_loader is not None:
        libc, version, sonames = _glibc_base(reader, resolver, glibc_loader, platform)
    if libc is not Libc.GLIBC and musl_loader is not None:
        libc, version = Libc.MUSL, _musl_version(reader, musl_loader)
        dirs, _ = MuslSearch(fs, musl_loader, None).sys_path()
        sonames = _library_names(fs, dirs)
    elif libc is Libc.NONE and loaders:
        libc = Libc.UNKNOWN
    ordered = sorted(loaders, key=lambda p: 0 if flavours[p] is libc else 1)
    return BaseInfo(libc, version, tuple(ordered), sonames, _os_release(fs))


def _loaders(reader: ObjectReader, arch: str) -> list[str]:
    candidates = list(KNOWN_LOADERS.get(arch, ()))
    for directory in ("/lib", "/lib64"):
        for name in reader.fs.listdir(directory):
            if name.startswith(("ld-musl-", "ld-linux")) and ".so" in name:
                candidates.append(f"{directory}/{name}")
    found = []
    for path in dict.fromkeys(candidates):
        file = reader.read(path)
        if file.info is not None and (
            file.info.arch == arch or path in KNOWN_LOADERS.get(arch, ())
        ):
            found.append(path)
    return found


def _glibc_base(
    reader: ObjectReader, resolver: Resolver, loader: str, platform: Platform
) -> tuple[Libc, str | None, tuple[str, ...]]:
    fs = reader.fs
    ld_so = reader.read(loader)
    try:
        ld_bytes: bytes | None = fs.read_bytes(ld_so.real_path, limit=16 << 20)
    except (FileNotFoundError, OSError):
        ld_bytes = None
    layout = detect_layout(ld_bytes, platform.architecture, fs)
    cache = resolver.ld_cache()
    candidates = [f"{d}/libc.so.6" for d in layout.system_dirs]
    names = set(_library_names(fs, layout.system_dirs))
    if cache is not None and ld_so.info is not None:
        cached = cache.lookup("libc.so.6", ld_so.info.elf_class, ld_so.info.machine)
        if cached:
            candidates.insert(0, cached)
        names |= cache.sonames()
    for path in candidates:
        libc = reader.read(path)
        defs = libc.info.version_defs if libc.info else ()
        if any(d.startswith("GLIBC_2.") for d in defs):
            return Libc.GLIBC, _glibc_version(fs, libc, defs), tuple(sorted(names))
    return Libc.NONE, None, tuple(sorted(names))


def _glibc_version(fs: FileSystem, libc: ObjectFile, defs: tuple[str, ...]) -> str | None:
    try:
        data = fs.read_bytes(libc.real_path, limit=32 << 20)
    except (FileNotFoundError, OSError):
        data = b""
    match = _GLIBC_VERSION_RE.search(data)
    if match:
        return match.group(1).decode()
    versions = [
        tuple(int(p) for p in d[6:].split(".") if p.isdigit())
        for d in defs
        if d.startswith("GLIBC_2.")
    ]
    best = max((v for v in versions if v), default=None)
    return ".".join(map(str, best)) if best else None


def _musl_version(reader: ObjectReader, loader: str) -> str | None:
    try:
        data = reader.fs.read_bytes(reader.read(loader).real_path, limit=16 << 20)
    except (FileNotFoundError, OSError):
        return None
    match = _MUSL_VERSION_RE.search(data)
    return match.group(1).decode() if match else None


def _library_names(fs: FileSystem, dirs: Sequence[str]) -> tuple[str, ...]:
    names = {n for d in dirs for n in fs.listdir(d) if _SONAME_RE.match(n)}
    return tuple(sorted(names))


def _os_release(fs: FileSystem) -> str | None:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = fs.read_bytes(path, limit=64 << 10).decode("utf-8", "replace")
        except (FileNotFoundError, OSError):
            continue
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "PRETTY_NAME":
                return value.strip().strip("\"'") or None
    return None


def library_tree(closure: Closure) -> LibraryNode:
    """The closure as lddtree draws it: each library expanded under its first needer."""
    expanded: set[str] = {closure.executable.real_path}

    def children(obj: LoadedObject, depth: int) -> tuple[LibraryNode, ...]:
        nodes = []
        for lookup in closure.lookups_of(obj.real_path):
            found = lookup.found
            # Expanded under the object that loaded it (breadth-first), shown once.
            first = (
                found is not None
                and found.needed_by == obj.real_path
                and found.real_path not in expanded
            )
            if first and found is not None:
                expanded.add(found.real_path)
            kids = children(found, depth + 1) if first and found and depth < _MAX_TREE_DEPTH else ()
            nodes.append(
                LibraryNode(
                    name=lookup.name,
                    status=LibraryStatus(lookup.status.value),
                    path=found.path if found else None,
                    real_path=found.real_path if found else None,
                    source=lookup.source.value if lookup.source else None,
                    layer=found.layer if found else None,
                    children=kids,
                    repeated=found is not None and not first,
                )
            )
        return tuple(nodes)

    exe = closure.executable
    return LibraryNode(
        name=exe.path,
        status=LibraryStatus.FOUND,
        path=exe.path,
        real_path=exe.real_path,
        source=None,
        layer=exe.layer,
        children=children(exe, 0),
    )


def _executed(step: ExecStep, target: Target | None) -> ExecutedFile:
    file = step.file
    info = file.info if file else None
    interp = info.interp if info else None
    if file is not None and file.kind is FileKind.SCRIPT:
        parsed = parse_shebang(file.head)
        interp = " ".join(p for p in parsed[:2] if p) if parsed else None
    closure = target.closure if target else None
    return ExecutedFile(
        role=step.role.value,
        name=step.name,
        path=step.path,
        real_path=file.real_path if file and file.resolution.found else None,
        kind=file.kind.value if file else FileKind.MISSING.value,
        hops=file.resolution.hops if file else (),
        layer=file.layer if file else None,
        linkage=info.linkage.value if info else None,
        arch=info.arch if info else None,
        interpreter=interp,
        libc=closure.flavour if closure else None,
        go_version=info.go.go_version if info and info.go else None,
        cgo_enabled=info.go.cgo_enabled if info and info.go else None,
        libraries=library_tree(closure) if closure and closure.flavour is not Libc.NONE else None,
    )


def _entrypoint_info(
    config: ImageConfig, resolution: EntrypointResolution, targets: Sequence[Target]
) -> EntrypointInfo:
    by_step = {id(t.step): t for t in targets if t.step is not None}
    chain = tuple(_executed(s, by_step.get(id(s))) for s in resolution.steps)
    first = resolution.steps[0].path if resolution.steps else None
    return EntrypointInfo(
        argv=resolution.argv,
        user=config.user,
        working_dir=resolution.working_dir,
        path=first,
        chain=chain,
    )
