"""Rules about what runc and the kernel exec: the entrypoint, the user, ``#!`` interpreters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.checks import register
from linkcheck.entrypoints import ExecProblem, ExecRole
from linkcheck.model import Finding, Severity

if TYPE_CHECKING:
    from collections.abc import Iterator

    from linkcheck.checks.facts import Facts
    from linkcheck.entrypoints import ExecStep
    from linkcheck.model import DetailValue

_CRLF = "the #! line ends with a carriage return (CRLF line endings)"
_CRLF_HINT = "convert the script to LF line endings (dos2unix, or .gitattributes eol=lf)"


def _step_detail(facts: Facts, step: ExecStep) -> tuple[tuple[str, DetailValue], ...]:
    detail: list[tuple[str, DetailValue]] = [("name", step.name)]
    if step.path:
        detail.append(("exec_path", step.path))
    if step.searched:
        detail.append(("searched", step.searched))
    if step.skipped:
        detail.append(("not_executable", step.skipped))
    if step.script:
        detail.append(("script", step.script))
    if step.file is not None:
        res = step.file.resolution
        if res.hops:
            detail.append(("hops", res.hops))
        if res.error:
            detail.append(("lookup_error", res.error))
        layer = facts.layer_name(step.file.layer)
        if layer:
            detail.append(("layer", layer))
    return tuple(detail)


@register("unknown-user", Severity.ERROR, "the config's User is not in /etc/passwd or /etc/group")
def unknown_user(facts: Facts) -> Iterator[Finding]:
    error = facts.entrypoint.user_error
    if error is None:
        return
    yield Finding(
        rule="unknown-user",
        severity=Severity.ERROR,
        path="/etc/passwd",
        message=f"runc cannot start the container: {error}",
        hint="add the user to /etc/passwd (useradd) or set USER to a numeric uid[:gid]",
        detail=(("user", facts.entrypoint.user_spec),),
    )


def _not_found(step: ExecStep) -> tuple[str, str] | None:
    """(message, hint) for an entrypoint that cannot be found, or None if it was."""
    if step.problem is ExecProblem.EMPTY_ARGV:
        return (
            "the image has neither an Entrypoint nor a Cmd: there is nothing to run",
            "set ENTRYPOINT or CMD in the Dockerfile, or pass one to docker run",
        )
    if step.problem is ExecProblem.NOT_IN_PATH:
        message = f'exec: "{step.name}": executable file not found in $PATH'
        if step.skipped:
            message += f" ({', '.join(step.skipped)} exists but is not executable for the user)"
        return message, f"install {step.name} in the image, or give its absolute path"
    if step.problem is ExecProblem.NOT_FOUND:
        res = step.file.resolution if step.file else None
        why = "does not exist in the image (no such file or directory)"
        if res is not None and res.error:
            why = f"cannot be looked up: {res.error}"  # ELOOP/ENOTDIR, not ENOENT
        elif res is not None and res.hops:
            why = f"is a dangling symlink ({res.hops[-1]}: no such file or directory)"
        return (
            f"the entrypoint {step.path} {why}",
            "COPY the program to that path, or fix ENTRYPOINT/CMD to where it is",
        )
    return None


@register("entrypoint-not-found", Severity.ERROR, "argv[0] does not exist or is not in PATH")
def entrypoint_not_found(facts: Facts) -> Iterator[Finding]:
    for step in facts.entrypoint.steps:
        if step.role not in (ExecRole.ENTRYPOINT, ExecRole.SHELL_COMMAND):
            continue
        texts = _not_found(step)
        if texts is None:
            continue
        message, hint = texts
        if step.role is ExecRole.SHELL_COMMAND:
            # The shell reports it ("sh: 1: app: not found", exit 127) rather than runc.
            script = facts.entrypoint.argv[2]
            message = f"the shell command {script!r} runs {step.name!r}: " + message.replace(
                "the entrypoint ", ""
            )
        yield Finding(
            "entrypoint-not-found",
            Severity.ERROR,
            step.path,
            message,
            hint,
            _step_detail(facts, step),
        )


_ROLE_NAMES = {
    ExecRole.ENTRYPOINT: "the entrypoint",
    ExecRole.INTERPRETER: "the #! interpreter",
    ExecRole.ENV_PROGRAM: "the #! interpreter",
    ExecRole.SHELL_COMMAND: "the shell command's program",
}

_NOT_EXEC = {
    ExecProblem.DIRECTORY: ("is a directory (permission denied)", "point it at a program"),
    ExecProblem.PERMISSION: (
        "is not executable for the user (permission denied)",
        "chmod +x it (COPY --chmod=755), or run as a user allowed to execute it",
    ),
    ExecProblem.EXEC_FORMAT: (
        "is neither an ELF program nor a #! script (exec format error)",
        "add a #! line to the script, or make the entrypoint the program that runs it",
    ),
    ExecProblem.TOO_DEEP: (
        "needs more nested #! interpreters than the kernel allows (too many levels)",
        "point the #! line at a real program",
    ),
}


@register("not-executable", Severity.ERROR, "the file exists but the kernel refuses to exec it")
def not_executable(facts: Facts) -> Iterator[Finding]:
    for step in facts.entrypoint.steps:
        texts = _NOT_EXEC.get(step.problem) if step.problem else None
        if texts is None:
            continue
        what, hint = texts
        if step.problem is ExecProblem.EXEC_FORMAT and step.file and step.file.head[:2] == b"#!":
            what = "has an empty #! line (exec format error)"
        user = facts.entrypoint.user
        if step.problem is ExecProblem.PERMISSION and user is not None:
            what = what.replace("the user", f"uid {user.uid}")
        role = _ROLE_NAMES[step.role]
        yield Finding(
            "not-executable",
            Severity.ERROR,
            step.path,
            f"{role} {step.path} {what}",
            hint,
            _step_detail(facts, step),
        )


@register(
    "missing-interpreter", Severity.ERROR, "PT_INTERP or the #! interpreter is not in the image"
)
def missing_script_interpreter(facts: Facts) -> Iterator[Finding]:
    """The #! half of missing-interpreter (the PT_INTERP half is in checks/elf.py)."""
    for step in facts.entrypoint.steps:
        if step.role in (ExecRole.ENTRYPOINT, ExecRole.SHELL_COMMAND):
            continue  # entrypoint-not-found
        if step.problem not in (ExecProblem.NOT_FOUND, ExecProblem.NOT_IN_PATH):
            continue
        script = step.script or "the script"
        if step.role is ExecRole.ENV_PROGRAM:
            message = f"{script} runs '{step.name}' through env, and it is not on PATH"
        else:
            message = f"{script} names the interpreter {step.name!r}, which is not in the image"
        hint = f"install {step.name.strip()} in the image, or change the #! line of {script}"
        if step.crlf:
            message = f"{script}: {_CRLF}, so the interpreter looked up is {step.name!r}"
            hint = _CRLF_HINT
        yield Finding(
            "missing-interpreter",
            Severity.ERROR,
            step.script,
            message,
            hint,
            (*_step_detail(facts, step), ("crlf", step.crlf)),
        )
