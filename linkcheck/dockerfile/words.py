"""Variable expansion and shell splitting, just enough to read build commands.

Two different expanders exist in a real build and both are imitated here:

* BuildKit expands ``$VAR``/``${VAR}``/``${VAR:-word}``... in FROM, ENV, ARG, WORKDIR, COPY
  (moby/buildkit ``frontend/dockerfile/shell/lex.go``), with quotes removed as a shell would.
* RUN lines are *not* expanded by BuildKit: ``/bin/sh -c`` does it at run time. We simulate the
  part of the shell that matters for deciding how a binary is linked: ``NAME=value cmd``,
  ``export NAME=value``, ``cd``, and ``&&``/``;``/``|`` lists.

Values unknown at lint time (``TARGETARCH`` ...) are carried as opaque markers made by
:func:`marker`, so later code can tell "set from the target platform" from a literal value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

__all__ = ["SimpleCommand", "expand", "is_marker", "marker", "split_script"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PUNCT = ";&|()"
_OPERATORS = frozenset({"&&", "||", ";", "|", "&", ";;", "(", ")", "{", "}", "!"})


def marker(name: str) -> str:
    """An opaque stand-in for a value only known at build time (``TARGETARCH``)."""
    return f"\x00{name}\x00"


def is_marker(value: str, name: str | None = None) -> bool:
    if name is None:
        return "\x00" in value
    return marker(name) in value


def expand(word: str, env: Mapping[str, str], *, escape: str = "\\") -> str:
    """Expand variables and remove quotes in one word, as BuildKit's ``ProcessWord`` does.

    Unset variables expand to "". Supports ``$N``, ``${N}``, ``${N:-w}``, ``${N-w}``,
    ``${N:+w}``, ``${N+w}``; single quotes are literal, double quotes expand.
    """
    out: list[str] = []
    i, quote = 0, ""
    while i < len(word):
        ch = word[i]
        if ch == escape and quote != "'" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
        elif ch in "'\"" and quote in ("", ch):
            quote = "" if quote == ch else ch
            i += 1
        elif ch == "$" and quote != "'":
            text, i = _expand_dollar(word, i, env, escape)
            out.append(text)
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _expand_dollar(word: str, i: int, env: Mapping[str, str], escape: str) -> tuple[str, int]:
    """Expand the ``$...`` starting at ``word[i]``; return the text and the next index."""
    if word.startswith("${", i):
        end = _closing_brace(word, i + 2)
        if end < 0:
            return word[i:], len(word)
        body = word[i + 2 : end]
        match = _NAME.match(body)
        if not match:
            return "", end + 1
        name, rest = match.group(), body[match.end() :]
        value = env.get(name)
        if rest[:2] in (":-", ":+") or rest[:1] in ("-", "+"):
            colon = rest.startswith(":")
            op, alt = rest[1 if colon else 0], rest[2 if colon else 1 :]
            present = value is not None and (value != "" or not colon)
            if op == "-":
                return (value if present and value is not None else expand(alt, env)), end + 1
            return (expand(alt, env) if present else ""), end + 1
        return value or "", end + 1
    match = _NAME.match(word, i + 1)
    if not match:
        return "$", i + 1
    return env.get(match.group(), ""), match.end()


def _closing_brace(word: str, start: int) -> int:
    depth = 1
    for j in range(start, len(word)):
        if word[j] == "{":
            depth += 1
        elif word[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return -1


@dataclass(frozen=True, slots=True)
class SimpleCommand:
    """One simple command of a shell list: leading assignments, then argv (still unexpanded)."""

    assignments: tuple[tuple[str, str], ...]
    argv: tuple[str, ...]


def split_script(script: str) -> Iterator[SimpleCommand]:
    """Split a RUN script into simple commands, keeping quotes for later expansion.

    Newlines separate commands (heredoc scripts); backslash-newline joins lines, as in sh.
    """
    for line in script.replace("\\\r\n", " ").replace("\\\n", " ").splitlines():
        yield from _split_line(line)


def _split_line(line: str) -> Iterator[SimpleCommand]:
    words: list[str] = []
    for token in [*_tokens(line), ";"]:
        if token not in _OPERATORS:
            words.append(token)
            continue
        if words:
            yield _simple(words)
        words = []


def _tokens(line: str) -> Iterator[str]:
    """Shell words and operators of one line; quotes are kept inside words for ``expand``."""
    word: list[str] = []
    quote = ""
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            word.append(ch)
            if ch == "\\" and quote == '"' and i + 1 < len(line):
                word.append(line[i + 1])
                i += 1
            elif ch == quote:
                quote = ""
        elif ch == "\\" and i + 1 < len(line):
            word.append(line[i : i + 2])
            i += 1
        elif ch in "'\"":
            quote = ch
            word.append(ch)
        elif ch == "#" and not word:
            break
        elif ch.isspace() or ch in _PUNCT:
            if word:
                yield "".join(word)
                word = []
            if ch in _PUNCT:
                double = line[i : i + 2]
                yield double if double in ("&&", "||", ";;") else ch
                i += len(double) - 1 if double in ("&&", "||", ";;") else 0
        else:
            word.append(ch)
        i += 1
    if word:
        yield "".join(word)


def _simple(words: list[str]) -> SimpleCommand:
    assignments: list[tuple[str, str]] = []
    index = 0
    for index, word in enumerate(words):  # noqa: B007 - index used after the loop
        name, sep, value = word.partition("=")
        if not sep or not _NAME.fullmatch(name):
            break
        assignments.append((name, value))
    else:
        index = len(words)
    return SimpleCommand(tuple(assignments), tuple(words[index:]))
