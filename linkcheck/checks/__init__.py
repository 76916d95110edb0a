"""Rules: one small registered function per rule id, each turning analysis facts into findings.

The analysis gathers :class:`Facts` (the entrypoint as runc resolves it, the loader closure of
every ELF file exec'd on the way, the base image); :func:`run_checks` runs every registered
rule over them. Rule ids are stable and documented in :data:`RULES`.

Scope: files on the entrypoint's path get the rule's own severity. Files checked only
because of ``scan_all`` cannot stop the entrypoint from starting, so their errors are
reported as warnings (``detail["scope"] == "scan-all"``).

============================ ======== ===================================================
rule                         severity what really happens
============================ ======== ===================================================
unknown-user                 error    runc: "unable to find user X" (User names nobody)
entrypoint-not-found         error    argv[0] absent, dangling, a loop, not in PATH, or
                                      no Entrypoint/Cmd at all
not-executable               error    EACCES (no x bit for the User, a directory) or
                                      ENOEXEC (neither ELF nor #!, empty #! line)
arch-mismatch                error    ENOEXEC: ELF machine/class is not the platform's
                                      (warning for 386 on amd64 / arm on arm64, which
                                      run only where the kernel has 32-bit support);
                                      also a library of another arch that musl maps
missing-interpreter          error    PT_INTERP, the #! interpreter or env's program is
                                      not in the image (ENOENT though the file exists;
                                      a CR from CRLF line ends is named as the cause)
malformed-elf                error    ELF magic but unparsable (warning with scan_all)
missing-library              error    "cannot open shared object file": not found, only
                                      wrong-class/machine candidates, or not an ELF
stale-ld-cache               error    only in an /etc/ld.so.conf directory, absent from
                                      /etc/ld.so.cache: "run ldconfig"
symbol-version               error    "version `GLIBC_2.34' not found (required by X)"
undefined-symbol             error    musl only: "Error relocating X: sym: symbol not
                                      found" -- musl binds every symbol at start-up and
                                      exits 127, so it is an error, not a warning
static-binary-on-libc-base   info     a static entrypoint on a base that ships a libc
============================ ======== ===================================================
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from linkcheck.checks.facts import Facts, Scope, Target
from linkcheck.model import Finding, Severity

__all__ = ["ORDER", "RULES", "Check", "Facts", "Rule", "Scope", "Target", "register", "run_checks"]

Check = Callable[[Facts], Iterator[Finding]]


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    severity: Severity  # the usual severity (some findings of a rule may differ, see docs)
    summary: str
    checks: tuple[Check, ...]  # a rule may be checked in more than one place


RULES: dict[str, Rule] = {}

# The order findings are reported in: the order in which a start-up fails.
ORDER = (
    "unknown-user",
    "entrypoint-not-found",
    "not-executable",
    "arch-mismatch",
    "missing-interpreter",
    "malformed-elf",
    "missing-library",
    "stale-ld-cache",
    "symbol-version",
    "undefined-symbol",
    "static-binary-on-libc-base",
)


def register(rule_id: str, severity: Severity, summary: str) -> Callable[[Check], Check]:
    """Add a check to :data:`RULES` under ``rule_id`` (at import time)."""

    def add(check: Check) -> Check:
        old = RULES.get(rule_id)
        checks = (*old.checks, check) if old else (check,)
        RULES[rule_id] = Rule(rule_id, severity, old.summary if old else summary, checks)
        return check

    return add


def run_checks(facts: Facts) -> tuple[Finding, ...]:
    """Every rule over ``facts``; the same finding reached twice is reported once."""
    seen: set[tuple[str, str | None, str]] = set()
    out: list[Finding] = []
    rank = {rule_id: i for i, rule_id in enumerate(ORDER)}
    for rule in sorted(RULES.values(), key=lambda r: rank.get(r.id, len(ORDER))):
        for check in rule.checks:
            for finding in check(facts):
                key = (finding.rule, finding.path, finding.message)
                if key not in seen:
                    seen.add(key)
                    out.append(finding)
    return tuple(out)


# Registration happens on import; keep this after the registry exists.
from linkcheck.checks import elf as _elf  # noqa: E402
from linkcheck.checks import entrypoint as _entrypoint  # noqa: E402
from linkcheck.checks import libraries as _libraries  # noqa: E402

del _elf, _entrypoint, _libraries
