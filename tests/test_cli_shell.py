from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.cli import main

if TYPE_CHECKING:
    import pytest


def test_help_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "analyze" in capsys.readouterr().out


def test_unknown_command_is_usage_error() -> None:
    assert main(["no-such-command"]) == 2
