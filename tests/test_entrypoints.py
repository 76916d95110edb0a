"""Entrypoint resolution as runc and the kernel do it, on real trees with real programs."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from linkcheck.entrypoints import (
    DEFAULT_PATH,
    ExecProblem,
    ExecRole,
    ExecUser,
    effective_argv,
    effective_env,
    may_execute,
    parse_shebang,
    resolve_entrypoint,
    resolve_user,
    shell_command,
)
from linkcheck.image import DirFileSystem
from linkcheck.loader.objects import FileKind, ObjectReader
from linkcheck.model import FileEntry, FileType, ImageConfig, Platform

if TYPE_CHECKING:
    from pathlib import Path

    from linkcheck.entrypoints import EntrypointResolution
    from tests.support.binaries import Binaries

PASSWD = "root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\napp:x:1000:1000::/:/\n"
GROUP = "root:x:0:\nstaff:x:50:nobody,app\nnobody:x:65534:\napp:x:1000:\n"


def config(
    entrypoint: tuple[str, ...] | None = None,
    cmd: tuple[str, ...] | None = None,
    *,
    env: tuple[str, ...] = (),
    working_dir: str = "",
    user: str = "",
) -> ImageConfig:
    return ImageConfig(Platform("linux", "amd64"), entrypoint, cmd, env, working_dir, user)


@pytest.fixture
def tree(tmp_path: Path, fixture_binaries: Binaries) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    for d in ("bin", "usr/bin", "usr/local/bin", "srv/bin", "opt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    program = fixture_binaries.path("c-static").read_bytes()
    for path in ("bin/sh", "usr/bin/env", "usr/bin/app", "srv/bin/app"):
        (root / path).write_bytes(program)
        (root / path).chmod(0o755)
    return root


def write(root: Path, path: str, data: bytes | str, mode: int = 0o755) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    target.chmod(mode)


def resolve(root: Path, cfg: ImageConfig, **kw: object) -> EntrypointResolution:
    return resolve_entrypoint(ObjectReader(DirFileSystem(root)), cfg, **kw)  # type: ignore[arg-type]


def summary(res: EntrypointResolution) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (s.role.value, s.name, s.path, s.problem.value if s.problem else None) for s in res.steps
    ]


# -- argv, env, user -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "override", "expected"),
    [
        ((("/app",), ("serve",)), (None, None), ("/app", "serve")),
        ((("/app",), ("serve",)), (("/bin/sh", "-c"), None), ("/bin/sh", "-c")),  # Cmd dropped
        ((("/app",), ("serve",)), (("/bin/sh",), ("-x",)), ("/bin/sh", "-x")),
        ((("/app",), ("serve",)), (None, ("debug",)), ("/app", "debug")),  # k8s args only
        ((None, ("/bin/sh",)), (None, None), ("/bin/sh",)),
        ((("/app",), ("serve",)), ((), None), ()),  # --entrypoint "" and no Cmd
        ((None, None), (None, None), ()),
    ],
    ids=["config", "entrypoint", "both", "cmd", "cmd-only", "cleared", "empty"],
)
def test_effective_argv(
    image: tuple[tuple[str, ...] | None, tuple[str, ...] | None],
    override: tuple[tuple[str, ...] | None, tuple[str, ...] | None],
    expected: tuple[str, ...],
) -> None:
    got = effective_argv(config(*image), entrypoint=override[0], cmd=override[1])
    assert got == expected


def test_effective_env_is_config_then_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_LIBRARY_PATH", "/host/only")
    cfg = config(env=("PATH=/bin", "A=1", "A=2", "BROKEN"))
    assert effective_env(cfg, {"B": "3", "PATH": "/usr/bin"}) == (
        ("PATH", "/usr/bin"),
        ("A", "2"),
        ("B", "3"),
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", ExecUser(0, 0, (), "")),
        ("root", ExecUser(0, 0, (), "root")),
        ("nobody", ExecUser(65534, 65534, (50,), "nobody")),
        ("1000", ExecUser(1000, 1000, (50,), "1000")),
        ("4242", ExecUser(4242, 0, (), "4242")),
        ("4242:4343", ExecUser(4242, 4343, (), "4242:4343")),
        ("app:staff", ExecUser(1000, 50, (50,), "app:staff")),
        ("ghost", "unable to find user ghost: no matching entries in passwd file"),
        ("0:ghosts", "unable to find group ghosts: no matching entries in group file"),
    ],
    ids=["unset", "root", "name", "uid-in-passwd", "uid", "uid-gid", "name-group", "no-user",
         "no-group"],
)  # fmt: skip
def test_resolve_user(tree: Path, spec: str, expected: ExecUser | str) -> None:
    assert resolve_user(DirFileSystem(tree), spec) == expected


def _entry(mode: int, uid: int = 0, gid: int = 0) -> FileEntry:
    return FileEntry("/app", FileType.REGULAR, mode, uid, gid, 1, None, 0)


@pytest.mark.parametrize(
    ("mode", "owner", "user", "ok"),
    [
        (0o755, (0, 0), ExecUser(1000, 1000, (), ""), True),
        (0o744, (0, 0), ExecUser(1000, 1000, (), ""), False),
        (0o744, (0, 0), ExecUser(0, 0, (), ""), True),
        (0o644, (0, 0), ExecUser(0, 0, (), ""), False),  # root needs one x bit too
        (0o100, (1000, 0), ExecUser(1000, 1000, (), ""), True),
        (0o010, (0, 50), ExecUser(1000, 1000, (50,), ""), True),  # supplementary group
        (0o601, (1000, 0), ExecUser(1000, 1000, (), ""), False),  # owner bits, not other
    ],
    ids=["other", "owner-only", "root-any-x", "root-no-x", "owner", "group", "owner-wins"],
)
def test_may_execute(mode: int, owner: tuple[int, int], user: ExecUser, ok: bool) -> None:
    assert may_execute(_entry(mode, *owner), user) is ok


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"#!/bin/sh\necho", ("/bin/sh", None, False)),
        (b"#! /bin/bash -e\n", ("/bin/bash", "-e", False)),
        (b"#!/usr/bin/env  python3 \n", ("/usr/bin/env", "python3", False)),
        (b"#!/bin/sh\r\n", ("/bin/sh\r", None, True)),
        (b"#!/usr/bin/env bash\r\n", ("/usr/bin/env", "bash\r", True)),
        (b"#!\t/bin/sh", ("/bin/sh", None, False)),
        (b"#!\n", None),
        (b"#!   \n", None),
    ],
    ids=["plain", "arg", "env", "crlf", "env-crlf", "tab-no-newline", "empty", "blank"],
)
def test_parse_shebang(head: bytes, expected: tuple[str, str | None, bool] | None) -> None:
    assert parse_shebang(head) == expected


# -- the file behind argv[0] ---------------------------------------------------------------


def test_name_without_slash_is_searched_in_path(tree: Path) -> None:
    write(tree, "/usr/local/bin/app", "not for this user", mode=0o644)
    res = resolve(tree, config(("app",), env=("PATH=/usr/local/bin:/usr/bin:/bin",)))
    step = res.steps[0]
    assert (step.path, step.problem) == ("/usr/bin/app", None)
    assert step.searched == ("/usr/local/bin", "/usr/bin")
    assert step.skipped == ("/usr/local/bin/app",)  # exists, no x bit: LookPath goes on
    assert step.file is not None and step.file.kind is FileKind.ELF


def test_runtime_default_path_when_config_has_none(tree: Path) -> None:
    res = resolve(tree, config(("nothere",)))
    assert summary(res) == [("entrypoint", "nothere", None, "not-in-path")]
    assert res.steps[0].searched == tuple(DEFAULT_PATH.split(":"))


def test_relative_path_is_relative_to_working_dir(tree: Path) -> None:
    res = resolve(tree, config(("./bin/app",), working_dir="/srv"))
    assert summary(res) == [("entrypoint", "./bin/app", "/srv/bin/app", None)]


def test_symlinks_are_followed_inside_the_image(tree: Path) -> None:
    (tree / "opt/app").mkdir()
    os.link(tree / "usr/bin/app", tree / "opt/app/server")
    (tree / "usr/local/bin/server").symlink_to("/opt/app/server")
    res = resolve(tree, config(("server",), env=("PATH=/usr/local/bin",)))
    step = res.steps[0]
    assert step.problem is None and step.file is not None
    assert (step.file.real_path, step.file.resolution.hops) == (
        "/opt/app/server",
        ("/usr/local/bin/server -> /opt/app/server",),
    )


@pytest.mark.parametrize(
    ("setup", "argv0", "problem"),
    [
        (lambda r: (r / "app").symlink_to("/opt/gone"), "/app", ExecProblem.NOT_FOUND),
        (lambda r: None, "/missing", ExecProblem.NOT_FOUND),
        (lambda r: (r / "appdir").mkdir(), "/appdir", ExecProblem.DIRECTORY),
        (lambda r: write(r, "/app", "#!/bin/sh\n", 0o644), "/app", ExecProblem.PERMISSION),
        (lambda r: write(r, "/app", "echo hi\n"), "/app", ExecProblem.EXEC_FORMAT),
        (lambda r: write(r, "/app", "#!\n"), "/app", ExecProblem.EXEC_FORMAT),
        (lambda r: (r / "app").symlink_to("app"), "/app", ExecProblem.NOT_FOUND),
    ],
    ids=[
        "dangling-link",
        "missing",
        "directory",
        "no-x-bit",
        "no-shebang",
        "empty-shebang",
        "symlink-loop",
    ],
)
def test_entrypoint_problems(tree: Path, setup: object, argv0: str, problem: ExecProblem) -> None:
    assert callable(setup)
    setup(tree)
    res = resolve(tree, config((argv0,)))
    assert res.steps[-1].problem is problem


def test_execute_permission_is_for_the_config_user(tree: Path) -> None:
    write(tree, "/app", (tree / "usr/bin/app").read_bytes(), mode=0o744)
    assert resolve(tree, config(("/app",))).ok
    res = resolve(tree, config(("/app",), user="nobody"))
    assert res.steps[0].problem is ExecProblem.PERMISSION


def test_unknown_user_stops_runc(tree: Path) -> None:
    res = resolve(tree, config(("/usr/bin/app",), user="ghost"))
    assert (res.user, res.steps) == (None, ())
    assert res.user_error == "unable to find user ghost: no matching entries in passwd file"


def test_empty_argv(tree: Path) -> None:
    res = resolve(tree, config())
    assert summary(res) == [("entrypoint", "", None, "empty-argv")]


# -- #! scripts ------------------------------------------------------------------------------


def test_script_runs_its_interpreter(tree: Path) -> None:
    write(tree, "/app.sh", "#!/bin/sh\necho hi\n")
    res = resolve(tree, config(("/app.sh",)))
    assert summary(res) == [
        ("entrypoint", "/app.sh", "/app.sh", None),
        ("interpreter", "/bin/sh", "/bin/sh", None),
    ]
    assert [s.file.kind if s.file else None for s in res.steps] == [FileKind.SCRIPT, FileKind.ELF]
    assert [s.role for s in res.elf_steps] == [ExecRole.INTERPRETER]


def test_crlf_shebang_looks_for_a_name_ending_in_cr(tree: Path) -> None:
    write(tree, "/app.sh", "#!/bin/sh\r\necho hi\r\n")
    res = resolve(tree, config(("/app.sh",)))
    step = res.steps[1]
    assert (step.name, step.problem, step.crlf, step.script) == (
        "/bin/sh\r",
        ExecProblem.NOT_FOUND,
        True,
        "/app.sh",
    )


@pytest.mark.parametrize(
    ("line", "program"),
    [("#!/usr/bin/env app\n", "app"), ("#!/usr/bin/env -S app --flag\n", "app")],
    ids=["env", "env-split"],
)
def test_env_needs_its_program_on_path(tree: Path, line: str, program: str) -> None:
    write(tree, "/run.sh", line)
    cfg = config(("/run.sh",), env=("PATH=/usr/bin",))
    assert summary(resolve(tree, cfg)) == [
        ("entrypoint", "/run.sh", "/run.sh", None),
        ("interpreter", "/usr/bin/env", "/usr/bin/env", None),
        ("env-program", program, "/usr/bin/app", None),
    ]
    cfg = config(("/run.sh",), env=("PATH=/bin",))
    assert summary(resolve(tree, cfg))[-1] == ("env-program", program, None, "not-in-path")


def test_env_program_with_crlf(tree: Path) -> None:
    write(tree, "/run.sh", "#!/usr/bin/env app\r\n")
    step = resolve(tree, config(("/run.sh",), env=("PATH=/usr/bin",))).steps[-1]
    assert (step.role, step.name, step.problem, step.crlf) == (
        ExecRole.ENV_PROGRAM,
        "app\r",
        ExecProblem.NOT_IN_PATH,
        True,
    )


def test_nested_interpreters_stop_at_the_kernel_limit(tree: Path) -> None:
    write(tree, "/s0", "#!/bin/sh\n")
    for i in range(1, 6):
        write(tree, f"/s{i}", f"#!/s{i - 1}\n")
    assert resolve(tree, config(("/s4",))).ok  # 4 nested interpreters + /bin/sh: fine
    res = resolve(tree, config(("/s5",)))
    assert res.steps[-1].problem is ExecProblem.TOO_DEEP


def test_env_without_split_takes_the_rest_of_the_line_as_one_name(tree: Path) -> None:
    # binfmt_script passes "app --flag" as one argument; only env -S would split it.
    write(tree, "/run.sh", "#!/usr/bin/env app --flag\n")
    step = resolve(tree, config(("/run.sh",), env=("PATH=/usr/bin",))).steps[-1]
    assert (step.name, step.problem) == ("app --flag", ExecProblem.NOT_IN_PATH)


@pytest.mark.parametrize(
    ("argv", "program"),
    [
        (("/bin/sh", "-c", "app --flag"), "app"),
        (("/bin/sh", "-c", "exec /app --port 80"), "/app"),
        (("sh", "-c", "FOO=1 BAR=2 exec ./server"), "./server"),
        (("/bin/bash", "-c", "  /usr/bin/python3 -m app"), "/usr/bin/python3"),
        (("/bin/sh", "-c", "$APP"), None),  # the shell would expand it
        (("/bin/sh", "-c", "FOO=$(id) app"), None),
        (("/bin/sh", "-c", "cd /srv && ./run"), None),  # a builtin first
        (("/bin/sh", "-c", "app; other"), None),
        (("/bin/sh", "-c", ""), None),
        (("/bin/sh", "-x", "app"), None),
        (("/usr/bin/python3", "-c", "print(1)"), None),  # not a shell
        (("/bin/sh", "-c"), None),
    ],
    ids=lambda v: repr(v),
)
def test_shell_command_follows_only_a_plain_first_word(
    argv: tuple[str, ...], program: str | None
) -> None:
    assert shell_command(argv) == program
