"""The README is a contract: its rule table and commands must match the code."""

from __future__ import annotations

import re
from pathlib import Path

import linkcheck.analysis  # noqa: F401 - registers every image rule
from linkcheck.checks import RULES
from linkcheck.dockerfile import RULE_IDS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_image_rule_is_documented_with_its_severity() -> None:
    table = dict(re.findall(r"^\| `([a-z-]+)` \| (\w+)", README, re.MULTILINE))
    assert set(table) == set(RULES)
    assert {rule: RULES[rule].severity.value for rule in RULES} == table


def test_every_dockerfile_rule_is_documented() -> None:
    section = README.split("Dockerfile rules (`linkcheck dockerfile`)", 1)[1].split("###", 1)[0]
    assert set(re.findall(r"`([a-z]+(?:-[a-z0-9]+)+)`", section)) >= set(RULE_IDS)


def test_exactly_two_setup_commands() -> None:
    setup = README.split("## Set up", 1)[1].split("##", 1)[0]
    block = setup.split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make demo", "make test"]
