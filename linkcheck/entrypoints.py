"""What a container runtime would exec: argv, the file behind argv[0], and its interpreters.

Follows runc (libcontainer/standard_init_linux.go): the process environment is the config's
Env; after switching to the config's User, ``exec.LookPath(argv[0])`` searches PATH (Go's
os/exec: a candidate must be a non-directory the user may execute, else the next one is
tried); then ``execve``. The kernel (fs/binfmt_script.c) runs ``#!`` scripts through their
interpreter, which must exist and be executable itself; ``#!/usr/bin/env X`` then needs X on
PATH. A regular file with neither ELF magic nor ``#!`` is ENOEXEC ("exec format error").

Overrides follow ``docker run --entrypoint`` and Kubernetes ``command``/``args``: a new
entrypoint also drops the image's Cmd unless a cmd is given too.
"""

from __future__ import annotations

import enum
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.loader.objects import FileKind, ObjectFile, ObjectReader

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from linkcheck.model import FileEntry, FileSystem, ImageConfig

__all__ = [
    "DEFAULT_PATH",
    "EntrypointResolution",
    "ExecProblem",
    "ExecRole",
    "ExecStep",
    "ExecUser",
    "effective_argv",
    "effective_env",
    "parse_shebang",
    "resolve_entrypoint",
    "resolve_user",
    "shell_command",
]

# What Docker/containerd put in the environment when the image config has no PATH
# (oci.DefaultPathEnv / the daemon's default).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# fs/exec.c exec_binprm(): "if (depth > 5) return -ELOOP" -- the exec'd file and at most
# five interpreters after it.
MAX_INTERPRETER_DEPTH = 5


class ExecRole(enum.Enum):
    ENTRYPOINT = "entrypoint"
    INTERPRETER = "interpreter"  # the #! line's program
    ENV_PROGRAM = "env-program"  # X in "#!/usr/bin/env X"
    SHELL_COMMAND = "shell-command"  # the program "sh -c SCRIPT" runs (Docker's shell form)


class ExecProblem(enum.Enum):
    EMPTY_ARGV = "empty-argv"  # neither Entrypoint nor Cmd
    UNKNOWN_USER = "unknown-user"  # User names someone /etc/passwd (or group) does not know
    NOT_FOUND = "not-found"  # absent, a dangling link, a loop
    NOT_IN_PATH = "not-in-path"  # no executable candidate in any PATH directory
    DIRECTORY = "directory"
    PERMISSION = "permission"  # no execute bit for the user
    EXEC_FORMAT = "exec-format"  # neither ELF nor "#!", or an empty "#!" line
    TOO_DEEP = "too-deep"  # more nested #! interpreters than the kernel allows


@dataclass(frozen=True, slots=True)
class ExecUser:
    uid: int
    gid: int
    groups: tuple[int, ...]  # supplementary groups from /etc/group
    spec: str  # the config's User as written ("" = root)


@dataclass(frozen=True, slots=True)
class ExecStep:
    """One file the runtime or the kernel executes on the way to ``main``."""

    role: ExecRole
    name: str  # as asked: argv[0], the #! interpreter, env's program
    path: str | None  # the path exec'd (after the PATH search); None when none was found
    file: ObjectFile | None
    problem: ExecProblem | None = None
    searched: tuple[str, ...] = ()  # PATH directories tried (for names without a slash)
    skipped: tuple[str, ...] = ()  # candidates that exist but the user cannot execute
    crlf: bool = False  # the #! line that named this ends with a carriage return
    script: str | None = None  # for interpreters: the script whose #! line named it


@dataclass(frozen=True, slots=True)
class EntrypointResolution:
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # effective environment, config order, overrides last
    working_dir: str
    user: ExecUser | None  # None when the User could not be resolved
    user_error: str | None
    steps: tuple[ExecStep, ...]  # the entrypoint, then each interpreter it needs
    user_spec: str = ""  # the config's User as written

    @property
    def ok(self) -> bool:
        return self.user_error is None and all(s.problem is None for s in self.steps)

    def env_value(self, key: str) -> str | None:
        return next((v for k, v in reversed(self.env) if k == key), None)

    @property
    def elf_steps(self) -> tuple[ExecStep, ...]:
        """Steps that reached an ELF file (each needs its own loader check)."""
        return tuple(s for s in self.steps if s.file is not None and s.file.kind is FileKind.ELF)


def effective_argv(
    config: ImageConfig,
    *,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
) -> tuple[str, ...]:
    """Entrypoint + Cmd, with ``docker run --entrypoint``/Kubernetes ``command`` semantics:
    overriding the entrypoint drops the image's Cmd unless ``cmd`` is given as well."""
    ep = tuple(entrypoint) if entrypoint is not None else tuple(config.entrypoint or ())
    if cmd is not None:
        args = tuple(cmd)
    elif entrypoint is not None:
        args = ()
    else:
        args = tuple(config.cmd or ())
    return ep + args


def effective_env(
    config: ImageConfig, overrides: Mapping[str, str] | None = None
) -> tuple[tuple[str, str], ...]:
    """Config Env then ``overrides`` (``docker run -e``); later entries win. Never the host's."""
    pairs: dict[str, str] = {}
    for item in config.env:
        key, sep, value = item.partition("=")
        if sep:
            pairs[key] = value
    pairs.update(overrides or {})
    return tuple(pairs.items())


def _read_db(fs: FileSystem, path: str) -> list[list[str]]:
    try:
        text = fs.read_bytes(path, limit=4 << 20).decode("utf-8", "replace")
    except (FileNotFoundError, OSError):
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_user(fs: FileSystem, spec: str) -> ExecUser | str:
    """The config's ``User`` as runc resolves it (libcontainer/user GetExecUser).

    Returns an ExecUser, or runc's error text when a *name* is not in the image's
    /etc/passwd or /etc/group (numeric ids need no entry).
    """
    user, _, group = spec.partition(":")
    passwd = [f for f in _read_db(fs, "/etc/passwd") if len(f) >= 4]
    groups = [f for f in _read_db(fs, "/etc/group") if len(f) >= 3]
    uid, gid, name = 0, 0, "root" if not user else None
    if user:
        match = [f for f in passwd if (f[2] == user if user.isdigit() else f[0] == user)]
        if match:
            name, uid, gid = match[0][0], _int(match[0][2]), _int(match[0][3])
        elif user.isdigit():
            uid = int(user)
        else:
            return f"unable to find user {user}: no matching entries in passwd file"
    elif passwd:
        root = [f for f in passwd if f[0] == "root"]
        gid = _int(root[0][3]) if root else 0
    if group:
        found = [f for f in groups if (f[2] == group if group.isdigit() else f[0] == group)]
        if found:
            gid = _int(found[0][2])
        elif group.isdigit():
            gid = int(group)
        else:
            return f"unable to find group {group}: no matching entries in group file"
    extra = tuple(
        _int(f[2]) for f in groups if name is not None and len(f) >= 4 and name in f[3].split(",")
    )
    return ExecUser(uid, gid, extra, spec)


def _int(text: str) -> int:
    return int(text) if text.isdigit() else 0


def may_execute(entry: FileEntry, user: ExecUser) -> bool:
    """generic_permission() for MAY_EXEC on a regular file: root needs any x bit
    (CAP_DAC_OVERRIDE), others the owner/group/other triplet that applies."""
    mode = entry.mode
    if user.uid == 0:
        return bool(mode & 0o111)
    if entry.uid == user.uid:
        return bool(mode & 0o100)
    if entry.gid == user.gid or entry.gid in user.groups:
        return bool(mode & 0o010)
    return bool(mode & 0o001)


def parse_shebang(head: bytes) -> tuple[str, str | None, bool] | None:
    """(interpreter, optional argument, line ended with CR) per fs/binfmt_script.c, or None
    for an empty "#!" line. Only space and tab separate; a CR stays part of the last word."""
    line = head[2:].split(b"\n", 1)[0]
    crlf = line.endswith(b"\r")
    line = line.lstrip(b" \t")
    if not line.strip(b" \t"):
        return None
    end = len(line)
    for i, ch in enumerate(line):
        if ch in b" \t\0":
            end = i
            break
    interp = line[:end].decode("utf-8", "surrogateescape")
    rest = line[end:].split(b"\0", 1)[0].strip(b" \t")
    arg = rest.decode("utf-8", "surrogateescape") if rest else None
    return interp, arg, crlf


@dataclass(frozen=True, slots=True)
class _Context:
    reader: ObjectReader
    user: ExecUser
    path_var: str
    cwd: str


def _absolute(path: str, cwd: str) -> str:
    # Only "." segments and repeated slashes go: posixpath.normpath would fold "a/../b"
    # lexically, which differs from the kernel when "a" is a symlink (the resolver does it).
    full = path if path.startswith("/") else posixpath.join(cwd or "/", path)
    parts = [p for p in full.split("/") if p not in ("", ".")]
    return "/" + "/".join(parts)


def _check_file(ctx: _Context, path: str) -> tuple[ObjectFile, ExecProblem | None]:
    """Go's findExecutable() plus execve(): exists, not a directory, executable by the user."""
    found = ctx.reader.read(_absolute(path, ctx.cwd))
    entry = found.resolution.entry
    if found.kind is FileKind.MISSING or entry is None:
        return found, ExecProblem.NOT_FOUND
    if found.kind is FileKind.DIRECTORY:
        return found, ExecProblem.DIRECTORY
    if not may_execute(entry, ctx.user) or found.kind is FileKind.SPECIAL:
        return found, ExecProblem.PERMISSION
    return found, None


def _look_path(ctx: _Context, role: ExecRole, name: str, crlf: bool = False) -> ExecStep:
    """exec.LookPath: a name with a slash is used as is; otherwise the PATH directories are
    tried in order and the first candidate the user may execute wins (an empty element is
    the working directory)."""
    if "/" in name:
        found, problem = _check_file(ctx, name)
        return ExecStep(role, name, _absolute(name, ctx.cwd), found, problem, crlf=crlf)
    searched: list[str] = []
    skipped: list[str] = []
    for directory in ctx.path_var.split(":"):
        directory = directory or "."
        searched.append(directory)
        candidate = _absolute(posixpath.join(directory, name), ctx.cwd)
        found, problem = _check_file(ctx, candidate)
        if problem is None:
            return ExecStep(role, name, candidate, found, None, tuple(searched), tuple(skipped))
        if problem is not ExecProblem.NOT_FOUND:
            skipped.append(candidate)
    return ExecStep(
        role, name, None, None, ExecProblem.NOT_IN_PATH, tuple(searched), tuple(skipped), crlf
    )


def _env_program(arg: str | None) -> str | None:
    """The program ``#!/usr/bin/env ARG`` runs: the first word, after ``-S`` splitting."""
    if arg is None:
        return None
    if not arg.startswith("-S"):
        # The kernel passes everything after the interpreter as ONE argument: without -S,
        # env looks for a program named "python3 -u" (or "bash\r").
        return None if arg.startswith("-") else arg
    words = [w for w in re.split("[ \t]+", arg[2:].strip(" \t")) if w]
    words = [w for w in words if not w.startswith("-") and "=" not in w]
    return words[0] if words else None


def _follow_scripts(ctx: _Context, first: ExecStep) -> list[ExecStep]:
    steps = [first]
    step = first
    depth = 0
    while step.problem is None and step.file is not None and step.file.kind is FileKind.SCRIPT:
        parsed = parse_shebang(step.file.head)
        if parsed is None:  # "#!" with nothing after it
            steps[-1] = _with_problem(step, ExecProblem.EXEC_FORMAT)
            break
        interp, arg, crlf = parsed
        depth += 1
        if depth > MAX_INTERPRETER_DEPTH:
            steps[-1] = _with_problem(step, ExecProblem.TOO_DEEP)
            break
        # The kernel opens the interpreter by path (open_exec), no PATH search.
        found, problem = _check_file(ctx, interp)
        script = step.path
        step = ExecStep(
            ExecRole.INTERPRETER, interp, _absolute(interp, ctx.cwd), found, problem,
            crlf=crlf and arg is None, script=script,
        )  # fmt: skip
        steps.append(step)
        program = _env_program(arg) if posixpath.basename(interp) == "env" else None
        if problem is None and program is not None:
            # env(1) execvp()s the program with the process PATH.
            step = _look_path(ctx, ExecRole.ENV_PROGRAM, program, crlf and arg is not None)
            step = ExecStep(step.role, step.name, step.path, step.file, step.problem,
                            step.searched, step.skipped, step.crlf, script)  # fmt: skip
            steps.append(step)
    if step.problem is None and step.file is not None and step.file.kind is FileKind.OTHER:
        steps[-1] = _with_problem(step, ExecProblem.EXEC_FORMAT)
    return steps


# Docker's shell form (``CMD app --flag``) is stored as ["/bin/sh", "-c", "app --flag"]: the
# container lives or dies with ``app``, not with the shell. Only a plainly written first
# command is followed; anything a shell would have to expand is left alone (unknown, not
# guessed).
_SHELLS = frozenset({"sh", "ash", "bash", "dash", "ksh", "mksh", "zsh"})
_SHELL_META = frozenset("$`\\|&;<>(){}*?[]~'\"#")
_SHELL_BUILTINS = frozenset(
    {".", ":", "[", "alias", "break", "cd", "command", "continue", "echo", "eval", "exit",
     "export", "false", "for", "if", "printf", "read", "readonly", "return", "set", "shift",
     "source", "test", "trap", "true", "ulimit", "umask", "unset", "until", "wait", "while"}
)  # fmt: skip
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def shell_command(argv: Sequence[str]) -> str | None:
    """The program ``sh -c SCRIPT`` execs first, when SCRIPT names it plainly; else None."""
    if len(argv) < 3 or posixpath.basename(argv[0]) not in _SHELLS or argv[1] != "-c":
        return None
    words = argv[2].split()
    while words and (words[0] == "exec" or _ASSIGNMENT.match(words[0])):
        if any(c in _SHELL_META for c in words[0]):
            return None  # VAR=$(...) or similar: the shell would have to run something
        words = words[1:]
    if not words or words[0] in _SHELL_BUILTINS or any(c in _SHELL_META for c in words[0]):
        return None
    return words[0]


def _with_problem(step: ExecStep, problem: ExecProblem) -> ExecStep:
    return ExecStep(step.role, step.name, step.path, step.file, problem, step.searched,
                    step.skipped, step.crlf, step.script)  # fmt: skip


def resolve_entrypoint(
    reader: ObjectReader,
    config: ImageConfig,
    *,
    entrypoint: Sequence[str] | None = None,
    cmd: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> EntrypointResolution:
    """Follow argv[0] the way runc and the kernel would, inside the image only."""
    argv = effective_argv(config, entrypoint=entrypoint, cmd=cmd)
    pairs = effective_env(config, env)
    path_var = next((v for k, v in reversed(pairs) if k == "PATH"), None)
    cwd = config.working_dir or "/"
    user = resolve_user(reader.fs, config.user)
    if isinstance(user, str):
        return EntrypointResolution(argv, pairs, cwd, None, user, (), config.user)
    if not argv or not argv[0]:
        step = ExecStep(ExecRole.ENTRYPOINT, "", None, None, ExecProblem.EMPTY_ARGV)
        return EntrypointResolution(argv, pairs, cwd, user, None, (step,), config.user)
    ctx = _Context(reader, user, path_var if path_var is not None else DEFAULT_PATH, cwd)
    first = _look_path(ctx, ExecRole.ENTRYPOINT, argv[0])
    steps = _follow_scripts(ctx, first)
    program = shell_command(argv)
    if program is not None and all(s.problem is None for s in steps):
        # The shell looks the command up on PATH itself (a name with a slash as it is).
        steps += _follow_scripts(ctx, _look_path(ctx, ExecRole.SHELL_COMMAND, program))
    return EntrypointResolution(argv, pairs, cwd, user, None, tuple(steps), config.user)
