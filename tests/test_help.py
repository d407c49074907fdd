"""Docs that cannot drift: every kade command and subcommand has --help text
with an ``Examples:`` block of real ``kade ...`` lines, and is mentioned in
the README or a page of docs/."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cli import main

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(main)


def test_every_command_is_found():
    assert ("evaluate",) in COMMANDS and ("rules", "check") in COMMANDS and ("audit", "verify") in COMMANDS
    assert len(COMMANDS) >= 20


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(("kade", *p)))
def test_help_has_an_examples_block(path):
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "Examples:"]
    assert starts, f"kade {' '.join(path)} --help has no 'Examples:' block:\n{result.output}"
    examples = []
    for line in lines[starts[0] + 1 :]:
        if not line.strip():
            break
        examples.append(line.strip())
    command = " ".join(("kade", *path)).strip()
    assert any(e.startswith(command) or (not path and e.startswith("kade ")) for e in examples), (
        f"the Examples of {command} show no '{command} ...' line: {examples}"
    )


@pytest.mark.parametrize("path", [p for p in COMMANDS if p], ids=lambda p: " ".join(("kade", *p)))
def test_every_command_is_in_the_docs(path):
    command = " ".join(("kade", *path))
    pattern = re.compile(re.escape(command) + r"(?![\w-])")
    pages = [doc.name for doc in DOCS if pattern.search(doc.read_text(encoding="utf-8"))]
    assert pages, f"{command} is not mentioned in README.md or docs/*.md"
