"""The ground truth: actually execute an unpacked image's entrypoint, as a runtime would.

``run_entrypoint(rootfs, argv, ...)`` runs a launcher (this file, as a script, with the host's
Python) inside ``unshare --mount --pid --fork``. The launcher mounts /proc and a tmpfs /dev in
the root (glibc computes ``$ORIGIN`` from /proc/self/exe, so a bare chroot would fail cases that
really run: ../shared/FACTS.md, "Facts for building and testing"), chroots, changes to the
working directory, drops to the config's user, and ``execve``s argv[0] searched on the image's
PATH, like runc's ``exec.LookPath`` after pivot_root. For a foreign architecture it first checks
existence and the exec bit itself (qemu-user exits 1 silently otherwise) and then runs the
binary under a static ``qemu-<arch>-static`` copied into the root.

The outcome is classified from errno and the loaders' own messages into the rule id linkcheck
should have reported, so a test can assert ``linkcheck's verdict == what really happened``.
This module never imports linkcheck: the oracle must stay independent of what it judges.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["OracleResult", "binfmt_handlers", "classify", "oracle_host", "run_entrypoint"]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
QEMU = {"arm64": "qemu-aarch64-static", "arm": "qemu-arm-static"}


@dataclass(frozen=True, slots=True)
class OracleResult:
    exit_code: int
    stdout: str
    stderr: str
    exec_errno: str | None  # "ENOENT", "EACCES", "ENOEXEC"... when execve itself failed

    @property
    def started(self) -> bool:
        return self.exec_errno is None and self.exit_code == 0

    @property
    def rule(self) -> str | None:
        return classify(self)


# Messages of glibc's ld.so (elf/dl-load.c, elf/dl-version.c) and musl's (ldso/dynlink.c).
_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"version `[^']+' not found", "symbol-version"),
    # qemu-user's own message when PT_INTERP is absent from the root
    (r"Could not open '[^']+': No such file", "missing-interpreter"),
    (r"cannot open shared object file", "missing-library"),
    (r"wrong ELF class", "missing-library"),
    (r"Error loading shared library .*: No such file", "missing-library"),
    (r"Error relocating .*: symbol not found", "undefined-symbol"),
    # dash ("sh: 1: exec: /app: not found"), busybox ("sh: exec: line 0: /app: not found"):
    # ENOENT from execve, whether the file or its interpreter is missing
    (r"sh: .*: not found", "shell-not-found"),
    # busybox/coreutils env when the program named on a "#!/usr/bin/env X" line is absent
    (r"env: .*(can't execute|No such file)", "missing-interpreter"),
    (r"symbol lookup error", "undefined-symbol"),
    (r"Error relocating", "undefined-symbol"),
)


def classify(result: OracleResult) -> str | None:
    """The linkcheck rule id that names what went wrong, or None when it ran fine."""
    if result.exec_errno == "ENOENT-PATH":
        return "entrypoint-not-found"
    if result.exec_errno == "ENOENT":
        # execve found the file but not its PT_INTERP or #! interpreter.
        return "missing-interpreter"
    if result.exec_errno in ("EACCES", "EISDIR"):
        return "not-executable"
    if result.exec_errno == "ENOEXEC":
        return "exec-format-error"  # not-executable or arch-mismatch: the test says which
    for pattern, rule in _PATTERNS:
        if re.search(pattern, result.stderr):
            return rule
    return None if result.exit_code == 0 else "exit-nonzero"


def binfmt_handlers() -> tuple[str, ...]:
    """Enabled binfmt_misc handlers: one for qemu would make an arch mismatch silently run."""
    base = Path("/proc/sys/fs/binfmt_misc")
    names = []
    for entry in sorted(base.glob("qemu-*")) if base.is_dir() else ():
        if entry.read_text(errors="replace").startswith("enabled"):
            names.append(entry.name)
    return tuple(names)


def run_entrypoint(
    rootfs: Path,
    argv: Sequence[str],
    *,
    env: Sequence[str] = (),
    working_dir: str = "/",
    user: str = "",
    arch: str = "amd64",
    timeout: float = 30,
) -> OracleResult:
    """Execute ``argv`` inside ``rootfs`` (modified: /proc and /dev mount points are added)."""
    if os.geteuid() != 0:
        raise RuntimeError("the oracle needs root (unshare, chroot, mount)")
    qemu = None
    if arch in QEMU:
        host_qemu = shutil.which(QEMU[arch])
        if host_qemu is None:
            raise RuntimeError(f"{QEMU[arch]} is not installed (apt-get install qemu-user-static)")
        qemu = "/.oracle-qemu"
        shutil.copy2(host_qemu, rootfs / qemu.lstrip("/"))
    spec = {
        "root": str(rootfs),
        "argv": list(argv),
        "env": list(env),
        "cwd": working_dir or "/",
        "user": user,
        "qemu": qemu,
    }
    proc = subprocess.run(
        ["unshare", "--mount", "--pid", "--fork", "--kill-child", sys.executable, __file__],
        input=json.dumps(spec).encode(),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    stderr = proc.stderr.decode(errors="replace")
    match = re.search(r"^oracle-exec-failed: (\S+)$", stderr, re.MULTILINE)
    return OracleResult(
        exit_code=proc.returncode,
        stdout=proc.stdout.decode(errors="replace"),
        stderr=stderr,
        exec_errno=match.group(1) if match else None,
    )


@pytest.fixture(scope="session")
def oracle_host() -> None:
    """Fail (never skip) when this machine cannot give a truthful oracle verdict."""
    if os.geteuid() != 0:
        pytest.fail("the oracle suite runs as root (CI does)")
    handlers = binfmt_handlers()
    if handlers:
        pytest.fail(f"binfmt_misc handlers {handlers} would hide arch mismatches; disable them")


# ----------------------------------------------------------------------------- launcher side
def _lookup_user(user: str) -> tuple[int, int]:
    """uid/gid for the config's User, read from the image's /etc/passwd (we are chrooted)."""
    if not user:
        return 0, 0
    name, _, group = user.partition(":")
    uid = gid = -1
    if name.isdigit():
        uid = int(name)
        gid = 0
    try:
        with open("/etc/passwd") as f:  # the chroot's /etc/passwd
            for line in f:
                fields = line.rstrip("\n").split(":")
                if len(fields) > 3 and (fields[0] == name or fields[2] == name):
                    uid, gid = int(fields[2]), int(fields[3])
                    break
    except OSError:
        pass
    if uid < 0:
        print(f"oracle-exec-failed: NOUSER {name}", file=sys.stderr)
        raise SystemExit(126)
    if group:
        gid = int(group) if group.isdigit() else gid
    return uid, gid


def _find_executable(argv0: str, path_var: str, cwd: str) -> str | None:
    """runc's LookPath: a name without a slash is searched on PATH; else taken as it is."""
    if "/" in argv0:
        return argv0 if argv0.startswith("/") else os.path.join(cwd, argv0)
    for directory in path_var.split(":"):
        candidate = os.path.join(directory or ".", argv0)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _launch() -> None:
    spec = json.loads(sys.stdin.read())
    root = spec["root"]
    for sub, fstype in (("proc", "proc"), ("dev", "tmpfs")):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
        subprocess.run(["mount", "-t", fstype, fstype, os.path.join(root, sub)], check=True)
    os.chroot(root)
    os.chdir(spec["cwd"])
    env = dict(item.partition("=")[::2] for item in spec["env"])
    uid, gid = _lookup_user(spec["user"])
    path = _find_executable(spec["argv"][0], env.get("PATH", DEFAULT_PATH), spec["cwd"])
    if path is None or not os.path.lexists(path) or not os.path.exists(path):
        print("oracle-exec-failed: ENOENT-PATH", file=sys.stderr)
        raise SystemExit(127)
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if os.path.isdir(path):
        print("oracle-exec-failed: EACCES", file=sys.stderr)
        raise SystemExit(126)
    argv = [path, *spec["argv"][1:]]
    if spec["qemu"]:
        # qemu-user exits 1 silently on a missing or non-executable file: check as runc does.
        if not os.access(path, os.X_OK):
            print("oracle-exec-failed: EACCES", file=sys.stderr)
            raise SystemExit(126)
        argv = [spec["qemu"], *argv]
    sys.stdout.flush()
    try:
        os.execve(argv[0], [spec["argv"][0], *argv[1:]] if not spec["qemu"] else argv, env)
    except OSError as e:
        import errno

        print(
            f"oracle-exec-failed: {errno.errorcode.get(e.errno or 0, str(e.errno))}",
            file=sys.stderr,
        )
        raise SystemExit(127) from None


if __name__ == "__main__":
    _launch()
