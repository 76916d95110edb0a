"""A tiny model of ``/bin/sh -c``: enough state to know each command's environment and cwd.

Handles ``NAME=v cmd`` (this command only), ``export NAME=v`` and bare ``NAME=v`` (kept for
later ``$NAME``, exported only if NAME already was: POSIX sh, "Shell Variables"), ``unset``,
``cd``, and the ``env``/``sudo``/``exec`` prefixes. Control flow is ignored: every command of
the script is assumed to run.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.dockerfile.words import expand, split_script

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["Command", "simulate"]

_PREFIXES = frozenset({"sudo", "exec", "nohup", "time", "command"})


@dataclass(frozen=True, slots=True)
class Command:
    argv: tuple[str, ...]  # expanded, quotes removed
    env: tuple[tuple[str, str], ...]  # the environment the command sees
    cwd: str

    def env_dict(self) -> dict[str, str]:
        return dict(self.env)


def simulate(script: str, env: Mapping[str, str], cwd: str) -> Iterator[Command]:
    """Yield every command ``script`` would run, with the env and cwd it would run with."""
    exported = dict(env)
    local: dict[str, str] = {}
    for simple in split_script(script):
        scope = {**exported, **local}
        inline = {name: expand(value, scope) for name, value in simple.assignments}
        argv = [expand(word, scope) for word in simple.argv]
        if not argv:
            for name, value in inline.items():
                (exported if name in exported else local)[name] = value
            continue
        while (argv and argv[0] in _PREFIXES) or argv[:1] == ["env"]:
            argv.pop(0)
            while argv and "=" in argv[0] and not argv[0].startswith("-"):
                name, _, value = argv.pop(0).partition("=")
                inline[name] = value
        if not argv:
            continue
        if argv[0] == "export":
            _export(argv[1:], exported, local)
        elif argv[0] == "unset":
            for name in argv[1:]:
                exported.pop(name, None)
                local.pop(name, None)
        elif argv[0] == "cd":
            target = argv[1] if len(argv) > 1 else "/root"
            cwd = posixpath.normpath(posixpath.join(cwd, target))
        else:
            yield Command(tuple(argv), tuple({**exported, **inline}.items()), cwd)


def _export(words: list[str], exported: dict[str, str], local: dict[str, str]) -> None:
    for word in words:
        name, sep, value = word.partition("=")
        if sep:
            exported[name] = value
            local.pop(name, None)
        elif name in local:
            exported[name] = local.pop(name)
