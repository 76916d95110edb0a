"""Read a Dockerfile with BuildKit's own parser; the only importer of ``dockerfile``.

The ``dockerfile`` PyPI package binds moby/buildkit's ``frontend/dockerfile/parser`` (Go), so
directives (``# escape=``, ``# syntax=``), BOM, CRLF, continuations with comments inside them,
lowercase instructions and heredocs behave exactly as in ``docker build``. The parser accepts
some files the next BuildKit layer (``instructions.Parse``) rejects; the checks that layer makes
and that matter here (unknown instruction, instruction before FROM, malformed FROM) are
repeated in :func:`_validate` so such a file is an error here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import dockerfile

from linkcheck.errors import DockerfileError

if TYPE_CHECKING:
    import os

__all__ = ["Heredoc", "Instruction", "parse_dockerfile", "read_source"]

# moby/buildkit frontend/dockerfile/instructions/parse.go: the instructions BuildKit knows.
KNOWN = frozenset(
    {
        "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
        "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME",
        "WORKDIR",
    }
)  # fmt: skip
MAX_BYTES = 4 * 1024 * 1024  # a Dockerfile larger than this is not one


@dataclass(frozen=True, slots=True)
class Heredoc:
    name: str
    content: str


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction as BuildKit parsed it, keyword upper-cased."""

    cmd: str
    flags: tuple[str, ...]
    args: tuple[str, ...]
    json: bool  # exec form: ["a", "b"]
    line: int  # first line, 1-based
    end_line: int
    heredocs: tuple[Heredoc, ...] = ()

    def flag(self, name: str) -> str | None:
        """Value of ``--name=value`` (last one wins), None when absent."""
        found: str | None = None
        for item in self.flags:
            key, sep, value = item.partition("=")
            if key == f"--{name}":
                found = value if sep else ""
        return found


def read_source(source: str | os.PathLike[str]) -> tuple[str, str]:
    """Return ``(display name, text)``.

    A path-like is read from disk. A ``str`` containing a newline is Dockerfile text (named
    ``<string>``); any other ``str`` is a path.
    """
    if isinstance(source, str) and "\n" in source:
        return "<string>", source
    path = Path(source)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as e:
        raise DockerfileError(f"{path}: cannot read: {e.strerror or e}") from e
    if len(data) > MAX_BYTES:
        raise DockerfileError(f"{path}: larger than {MAX_BYTES} bytes, not a Dockerfile")
    if b"\x00" in data:
        raise DockerfileError(f"{path}: binary data (NUL byte at offset {data.index(0)})")
    try:
        return str(path), data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DockerfileError(f"{path}: not UTF-8 text (byte {e.start})") from e


def parse_dockerfile(text: str, *, name: str = "<string>") -> tuple[Instruction, ...]:
    """Parse ``text``; raise :class:`DockerfileError` for anything BuildKit would refuse."""
    if "\x00" in text:
        raise DockerfileError(f"{name}: binary data (NUL character)")
    try:
        commands = dockerfile.parse_string(text)
    except dockerfile.GoParseError as e:
        raise DockerfileError(f"{name}: {e}") from e
    instructions = tuple(_convert(command) for command in commands)
    _validate(instructions, name)
    return instructions


def _convert(command: dockerfile.Command) -> Instruction:
    return Instruction(
        cmd=command.cmd.upper(),
        flags=tuple(command.flags),
        args=tuple(command.value),
        json=bool(command.json),
        line=command.start_line,
        end_line=command.end_line,
        heredocs=tuple(Heredoc(h.name, h.content) for h in command.heredocs),
    )


def _validate(instructions: tuple[Instruction, ...], name: str) -> None:
    seen_from = False
    for ins in instructions:
        where = f"{name}:{ins.line}"
        if ins.cmd not in KNOWN:
            raise DockerfileError(f"{where}: unknown instruction: {ins.cmd}")
        if ins.cmd == "FROM":
            seen_from = True
            if len(ins.args) not in (1, 3) or (len(ins.args) == 3 and ins.args[1].upper() != "AS"):
                raise DockerfileError(f"{where}: FROM requires either one or three arguments")
        elif not seen_from and ins.cmd != "ARG":
            raise DockerfileError(f"{where}: {ins.cmd} before the first FROM")
    if not seen_from:
        raise DockerfileError(f"{name}: no FROM instruction, nothing to build")
