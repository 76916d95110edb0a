"""Shared pytest configuration: fixtures live in tests/support/*, one module per concern."""

from __future__ import annotations

pytest_plugins = [
    "tests.support.imagebuilder",
    "tests.support.binaries",
    "tests.support.bases",
    "tests.support.oracle",
]
