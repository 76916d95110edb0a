"""The stage model: walk the instructions once, as BuildKit would, and record per stage its base,
its variables, and which build artifacts end up where.

Scoping follows the Dockerfile reference ("Understand how ARG and FROM interact", "Scope"):
ARGs before the first FROM are visible only to FROM lines, and inside a stage only after an
``ARG NAME`` redeclaration; an ARG ends with its stage; ENV is inherited by a stage built
``FROM`` another one and overrides an ARG of the same name; ARG values are in RUN's environment.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from linkcheck.dockerfile.builds import Artifact, BuildContext, detect
from linkcheck.dockerfile.shell import simulate
from linkcheck.dockerfile.words import expand, marker

if TYPE_CHECKING:
    from linkcheck.dockerfile.catalog import BaseImage, Catalog
    from linkcheck.dockerfile.parse import Instruction

__all__ = ["Placed", "Stage", "build_stages", "relocate"]

# BuildKit's automatic platform ARGs: unknown until build time, so they become markers.
AUTOMATIC_ARGS = tuple(
    f"{side}{part}"
    for side in ("BUILD", "TARGET")
    for part in ("PLATFORM", "OS", "ARCH", "VARIANT")
)
_COMPILER_PACKAGES = re.compile(
    r"(?:gcc|g\+\+|clang|build-base|build-essential|musl-tools|gcc-[\w.+-]+|clang-\d+)"
)
# What a stage may add that changes whether a foreign binary can start (FACTS.md, musl loader):
# gcompat/libc6-compat put a glibc loader shim on Alpine; Debian's "musl" package installs
# /lib/ld-musl-$ARCH.so.1; a COPY of ld-linux/ld-musl/libc.so means libraries brought by hand.
PROVIDES = {
    "glibc-compat": re.compile(r"gcompat|libc6-compat"),
    "musl": re.compile(r"musl"),
}
_LOADER_COPY = re.compile(r"ld-linux|ld-musl|libc\.so|/lib(?:64)?(?:/[\w-]+-linux-gnu)?/?$")
_NON_BINARY_DIRS = frozenset(
    {"static", "assets", "public", "templates", "config", "conf", "docs", "migrations", "www"}
)
_NON_BINARY = re.compile(r"\.(?:ya?ml|json|toml|conf|ini|html?|css|js|map|txt|md|pem|crt|sql|sh)$")


@dataclass(frozen=True, slots=True)
class Placed:
    """An artifact as it sits in a stage: where, and which COPY brought it (None: built here)."""

    artifact: Artifact
    path: str
    copy_line: int | None


@dataclass(slots=True)
class Stage:
    """One build stage after the walk. Mutable only while :func:`build_stages` runs."""

    index: int
    name: str | None
    from_line: int
    base: BaseImage  # the external image at the root of this stage's FROM chain
    parent: int | None  # index of the stage used as base, if any
    platform: str
    env: dict[str, str] = field(default_factory=dict)
    args: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"
    cc: bool | None = None
    apk_rust: bool = False
    placed: list[Placed] = field(default_factory=list)
    runs: int = 0  # RUN lines since the external base (this stage and the stages it is built on)
    entrypoint: Instruction | None = None  # the last ENTRYPOINT, inherited
    cmd: Instruction | None = None  # the last CMD, inherited
    provides: set[str] = field(default_factory=set)  # see PROVIDES
    referenced: bool = False  # used by a later FROM, COPY --from or RUN --mount from=

    @property
    def label(self) -> str:
        return self.name or str(self.index)

    def variables(self) -> dict[str, str]:
        return {**self.args, **self.env}

    @property
    def needs_shell(self) -> bool:
        """ENTRYPOINT (or, without one, CMD) in shell form runs ``/bin/sh -c``."""
        decisive = self.entrypoint or self.cmd
        return decisive is not None and not decisive.json

    @property
    def program(self) -> str | None:
        """argv[0] of an exec-form ENTRYPOINT (or CMD without one), None when not known."""
        decisive = self.entrypoint or self.cmd
        if decisive is None or not decisive.json or not decisive.args:
            return None
        return decisive.args[0]


def build_stages(instructions: tuple[Instruction, ...], catalog: Catalog) -> tuple[Stage, ...]:
    """Walk the Dockerfile and return its stages, with their artifacts placed."""
    global_args: dict[str, str] = {name: marker(name) for name in AUTOMATIC_ARGS}
    stages: list[Stage] = []
    for ins in instructions:
        if ins.cmd == "FROM":
            stages.append(_new_stage(ins, stages, global_args, catalog))
        elif not stages:
            if ins.cmd == "ARG":
                _declare_args(ins, global_args, global_args, global_args)
        else:
            _apply(ins, stages[-1], stages, global_args)
    return tuple(stages)


def _new_stage(
    ins: Instruction, stages: list[Stage], global_args: dict[str, str], catalog: Catalog
) -> Stage:
    image = expand(ins.args[0], global_args).lower()
    name = ins.args[2].lower() if len(ins.args) == 3 else None
    platform = expand(ins.flag("platform") or "", global_args)
    parent = next((s for s in reversed(stages) if s.name == image), None)
    if parent is None:
        base = catalog.lookup(image)
        stage = Stage(len(stages), name, ins.line, base, None, platform)
        stage.env, stage.cc = dict(base.env), base.cc
        return stage
    parent.referenced = True
    stage = Stage(
        len(stages), name, ins.line, parent.base, parent.index, platform or parent.platform
    )
    stage.env, stage.workdir, stage.cc = dict(parent.env), parent.workdir, parent.cc
    stage.apk_rust, stage.runs = parent.apk_rust, parent.runs
    stage.entrypoint, stage.cmd = parent.entrypoint, parent.cmd
    stage.placed, stage.provides = list(parent.placed), set(parent.provides)
    return stage


def _declare_args(
    ins: Instruction, into: dict[str, str], defaults: dict[str, str], scope: dict[str, str]
) -> None:
    """``ARG A=x B``: a default is expanded in ``scope``; no default takes ``defaults[name]``."""
    for item in ins.args:
        name, sep, value = item.partition("=")
        if sep:
            into[name] = expand(value, scope)
        elif name in defaults:
            into[name] = defaults[name]


def _apply(
    ins: Instruction, stage: Stage, stages: list[Stage], global_args: dict[str, str]
) -> None:
    if ins.cmd == "ARG":
        _declare_args(ins, stage.args, global_args, stage.variables())
    elif ins.cmd == "ENV":
        pairs = ins.args if len(ins.args) % 2 == 0 else ()
        for key, value in zip(pairs[::2], pairs[1::2], strict=True):
            stage.env[key] = expand(value, stage.variables())
    elif ins.cmd == "WORKDIR" and ins.args:
        path = expand(ins.args[0], stage.variables())
        stage.workdir = posixpath.normpath(posixpath.join(stage.workdir, path))
    elif ins.cmd == "RUN":
        _mark_mounts(ins, stages)
        stage.runs += 1
        for script in _scripts(ins):
            _run(script, ins.line, stage)
    elif ins.cmd in ("COPY", "ADD"):
        _copy(ins, stage, stages)
    elif ins.cmd == "ENTRYPOINT":
        stage.entrypoint = ins
    elif ins.cmd == "CMD":
        stage.cmd = ins


_SHELLS = frozenset({"sh", "bash", "ash", "dash"})


def _scripts(ins: Instruction) -> list[str]:
    """The shell text a RUN executes: its line, and heredoc bodies fed to a shell (or bare).

    Exec form runs no shell, except ``["sh", "-c", "script"]``. A heredoc whose first line is
    a non-shell ``#!`` is run by that interpreter (BuildKit), not analysed.
    """
    if ins.json:
        words = ins.args
        if len(words) >= 3 and posixpath.basename(words[0]) in _SHELLS and words[1] == "-c":
            return [words[2]]
        return [" ".join(_quote(word) for word in words)]
    line = ins.args[0] if ins.args else ""
    scripts = [] if line.lstrip().startswith("<<") else [re.sub(r"<<-?\S+", "", line)]
    head = line.split("<<", 1)[0].split()
    if not head or posixpath.basename(head[-1]) in _SHELLS:
        scripts += [h.content for h in ins.heredocs if _is_shell_script(h.content)]
    return scripts


def _is_shell_script(text: str) -> bool:
    first = text.lstrip().split("\n", 1)[0]
    return not first.startswith("#!") or any(sh in first for sh in _SHELLS)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"


def _mark_mounts(ins: Instruction, stages: list[Stage]) -> None:
    for item in ins.flags:
        if item.startswith("--mount="):
            found = re.search(r"(?:^|,)from=([^,]+)", item[len("--mount=") :])
            if found:
                source = _stage_ref(found.group(1), stages)
                if source is not None:
                    source.referenced = True


def _stage_ref(ref: str, stages: list[Stage]) -> Stage | None:
    ref = ref.lower()
    if ref.isdigit():
        return stages[int(ref)] if int(ref) < len(stages) else None
    return next((s for s in stages if s.name == ref), None)


def _run(script: str, line: int, stage: Stage) -> None:
    """Follow one RUN script: package installs, builds, and moves of what was built."""
    for command in simulate(script, stage.variables(), stage.workdir):
        argv = command.argv
        if _installs(argv, _COMPILER_PACKAGES):
            stage.cc = True
        if argv[0] == "apk" and _installs(argv, re.compile(r"rust|cargo")):
            stage.apk_rust = True
        stage.provides.update(k for k, pkgs in PROVIDES.items() if _installs(argv, pkgs))
        ctx = BuildContext(
            stage.label, stage.base, stage.cc, stage.platform, command.cwd, line, stage.apk_rust
        )
        artifact = detect(argv, command.env_dict(), ctx)
        if artifact is not None:
            stage.placed.append(Placed(artifact, artifact.path, None))
        elif argv[0] in ("mv", "cp", "install", "ln"):
            _move(argv, command.cwd, stage)


def _installs(argv: tuple[str, ...], packages: re.Pattern[str]) -> bool:
    """``apk add``/``apt-get install``/``dnf install`` ... of a package matching ``packages``."""
    managers = {"apk": "add", "apt-get": "install", "apt": "install", "dnf": "install",
                "yum": "install", "microdnf": "install", "zypper": "install"}  # fmt: skip
    verb = managers.get(posixpath.basename(argv[0]))
    if verb is None or verb not in argv:
        return False
    return any(packages.fullmatch(word.split("=")[0]) for word in argv if not word.startswith("-"))


def _move(argv: tuple[str, ...], cwd: str, stage: Stage) -> None:
    """``mv``/``cp``/``install`` of a built file to a new place: the artifact follows it."""
    words = [w for w in argv[1:] if not w.startswith("-")]
    if argv[0] == "install" and "-m" in argv:
        mode_index = argv.index("-m") + 1
        words = [w for w in words if w != argv[mode_index]] if mode_index < len(argv) else words
    if len(words) < 2:
        return
    dest = posixpath.normpath(posixpath.join(cwd, words[-1]))
    into_dir = words[-1].endswith("/") or len(words) > 2 or argv[0] == "ln"
    for src in words[:-1]:
        path = posixpath.normpath(posixpath.join(cwd, src))
        for placed in list(stage.placed):
            moved = relocate(placed.path, path, dest, into_dir=into_dir)
            if moved is not None:
                stage.placed.append(Placed(placed.artifact, moved, placed.copy_line))


def _copy(ins: Instruction, stage: Stage, stages: list[Stage]) -> None:
    source_ref = ins.flag("from")
    if source_ref is None or len(ins.args) < 2:
        return  # from the build context: nothing we saw being built
    source = _stage_ref(expand(source_ref, stage.variables()), stages[:-1])
    if source is None:
        return  # an external image: its files are not modelled
    source.referenced = True
    env = stage.variables()
    srcs = [expand(a, env) for a in ins.args[:-1]]
    raw_dest = expand(ins.args[-1], env)
    dest = posixpath.normpath(posixpath.join(stage.workdir, raw_dest))
    into_dir = raw_dest.endswith("/") or len(srcs) > 1
    for src in srcs:
        path = posixpath.normpath(posixpath.join("/", src))  # --from sources are from its root
        if _LOADER_COPY.search(path):
            stage.provides.add("loader-copied")
        for placed in source.placed:
            moved = relocate(placed.path, path, dest, into_dir=into_dir)
            if moved is not None:
                stage.placed.append(Placed(placed.artifact, moved, ins.line))


def relocate(pattern: str, src: str, dest: str, *, into_dir: bool) -> str | None:
    """Where the file(s) at ``pattern`` land when ``src`` is copied to ``dest``, or None.

    ``pattern`` is an absolute path whose components may be ``*`` (any one name) or end with
    ``**`` (a whole tree). ``src`` may itself hold globs, as COPY sources can.
    """
    pat = [p for p in pattern.split("/") if p]
    parts = [p for p in src.split("/") if p]
    tree = bool(pat) and pat[-1] == "**"
    fixed = pat[:-1] if tree else pat
    common = min(len(parts), len(fixed))
    if not all(_component(parts[i], fixed[i]) for i in range(common)):
        return None
    if len(parts) < len(fixed):  # src is a directory above the artifact: its contents move
        rest = "/".join(pat[len(parts) :])
        return posixpath.join(dest, rest)
    if tree and len(parts) == len(fixed):  # the tree's own directory: its contents move
        return posixpath.join(dest, "**")
    if len(parts) > len(fixed) and not tree:
        return None
    name = parts[-1] if parts else ""
    if len(parts) == len(fixed) and any(c in name for c in "*?["):
        name = fixed[-1]  # COPY /out/* /bin/: the file keeps its own name
    unnamed = (fixed and fixed[-1] == "*") or len(parts) > len(fixed)
    if unnamed and (_NON_BINARY.search(name) or name in _NON_BINARY_DIRS):
        return None  # an output whose name we guessed: skip what is clearly not a binary
    # Something inside a tree: a file or a directory, taken as one thing from here on.
    return posixpath.join(dest, name) if into_dir else dest


def _component(a: str, b: str) -> bool:
    return fnmatchcase(a, b) or fnmatchcase(b, a)
