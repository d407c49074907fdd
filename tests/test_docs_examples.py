"""Docs that are executed: every shell example in README.md and docs/*.md runs,
and where a page shows the output, the output must be what it shows.

The pages are read when the test runs, so an example added to any page is
covered from then on. Each page runs in a sandbox of its own - a temporary
folder with copies of rules/, workbooks/, tests/data/ and .gitattributes, and
``register.xlsx`` (the shipped sample, for the examples that name a register
generically) - with its own audit database; ``kade`` there is this checkout's
command line. The repository is never written to.

What counts as an example: a ```bash / ```sh / ```shell / ```console block
(each line a command; each must exit 0 or 1 - 2 is an error), and a block
whose first line starts with ``$ `` (a transcript: ``$ command`` then the
output it prints). Output is compared line by line after run ids, times,
SHA-256 and git object ids, and user@host are replaced by placeholders; ``…``
in a shown line stands for any text, and a line holding only ``…`` for any
lines. A run id in a command stands for the page's latest run.

A page says what is not run, and why, in an HTML comment just before the block:

    <!-- docs-test: not run - installs kade (CI runs this line) -->
    <!-- docs-test: not run "kade serve" - starts a server that does not return -->
    <!-- docs-test: before: python -m tests.docs_edit rules/client_tier.xlsx client_tier CT-04 client_score ">= 500" -->

``not run`` skips the block (or, with a quoted prefix, its lines starting
with it); ``before:`` runs a set-up command the page describes in words (an
edit made in Excel, a first run). Every block is either run or says why not.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from engine import audit

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELLS = {"bash", "sh", "shell", "console"}
DIRECTIVE = re.compile(r"^<!--\s*docs-test:\s*(.*?)\s*-->\s*$")
RUN_ID = re.compile(r"\b\d{8}-\d{6}(?:-[0-9a-f]{6})?\b")
VOLATILE = [
    (re.compile(r"\b\d{8}-\d{6}-[0-9a-f]{6}\b"), "<run>"),
    (re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\+00:00|Z)?"), "<time>"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "<sha256>"),
    (re.compile(r"^index [0-9a-f]{7,40}\.\.[0-9a-f]{7,40}", re.M), "index <git>"),
    (re.compile(r"\bby [\w.-]+ \(rules"), "by <user> (rules"),
    (re.compile(r"(?<=\s)[\w.-]+@[\w.-]+(?=\s)"), "<user@host>"),
]


@dataclass
class Command:
    text: str
    shown: list[str] | None = None  # the output a transcript shows; None: only run it


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: list[str]
    directives: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_example(self) -> bool:
        first = next((line for line in self.body if line.strip()), "")
        return self.lang in SHELLS or (self.lang == "" and first.startswith("$ "))

    def not_run(self) -> tuple[str | None, list[tuple[str, str]]]:
        """(why the whole block is not run, or None; [(line prefix, why)])."""
        whole, lines = None, []
        for d in self.directives:
            m = re.fullmatch(r'not run(?:\s+"([^"]+)")?\s*[-—]\s*(.+)', d)
            if m and m[1]:
                lines.append((m[1], m[2]))
            elif m:
                whole = m[2]
        return whole, lines

    def before(self) -> list[str]:
        return [d[len("before:") :].strip() for d in self.directives if d.startswith("before:")]

    def commands(self) -> list[Command]:
        if self.lang in SHELLS and not any(line.startswith("$ ") for line in self.body):
            return [Command(_without_comment(line)) for line in self.body if line.strip() and not line.startswith("#")]
        out: list[Command] = []
        for line in self.body:
            if line.startswith("$ "):
                out.append(Command(_without_comment(line[2:]), []))
            elif out:
                assert out[-1].shown is not None
                out[-1].shown.append(line)
        return out


def parse(page: Path) -> tuple[list[Block], list[str]]:
    """The fenced code blocks of a page, each with the docs-test comments just
    before it; and the fences that are broken (they would swallow the text after them)."""
    found, problems, current, directives = [], [], None, []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        if current is None:
            if line.startswith("```"):
                current = Block(page, number, line[3:].strip(), [], directives)
                directives = []
            elif m := DIRECTIVE.match(line.strip()):
                directives.append(m[1])
            elif line.strip():
                directives = []
        elif line.strip() == "```":
            found.append(current)
            current = None
        elif line.startswith("```"):
            problems.append(f"{page.relative_to(ROOT)}:{number}: a closing ``` with text after it")
            found.append(current)
            current = None
        else:
            current.body.append(line)
    if current is not None:
        problems.append(f"{page.relative_to(ROOT)}:{current.line}: a code block that is never closed")
    return found, problems


def blocks(page: Path) -> list[Block]:
    return parse(page)[0]


def _without_comment(line: str) -> str:
    """The command without a trailing '# comment' (a '#' inside quotes stays)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def normalized(text: str) -> str:
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


def shows(shown: list[str], actual: str) -> bool:
    """Whether the output is what the page shows (``…``: any text; a line of only ``…``: any lines)."""
    pattern = ""
    for line in normalized("\n".join(shown)).split("\n"):
        if line.strip() == "…":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += "".join(r"[^\n]*" if part == "…" else re.escape(part) for part in re.split("(…)", line)) + r"\n"
    return re.fullmatch(pattern, normalized(actual) + "\n") is not None


# ------------------------------------------------------------- the sandbox ----


class Sandbox:
    def __init__(self, folder: Path):
        self.folder = folder
        for name in ("rules", "workbooks", "tests/data"):
            shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("*.kade.*", "~$*", "__pycache__"))
        shutil.copy(ROOT / ".gitattributes", folder / ".gitattributes")
        shutil.copy(ROOT / "workbooks" / "key_accounts.xlsx", folder / "register.xlsx")
        bin_dir = folder / ".bin"
        bin_dir.mkdir()
        for name, target in (("kade", f'"{sys.executable}" -m cli'), ("python", f'"{sys.executable}"')):
            shim = bin_dir / name
            shim.write_text(f'#!/bin/sh\nexec {target} "$@"\n', encoding="utf-8")
            shim.chmod(0o755)
        (folder / ".home").mkdir()
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("KADE_", "GIT_")) and key not in ("PYTHONPATH", "COLUMNS")
        }
        self.env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONPATH=str(ROOT),
            HOME=str(folder / ".home"),
            KADE_AUDIT=str(folder / "audit.sqlite"),
            PYTHONIOENCODING="utf-8",
            GIT_AUTHOR_NAME="docs",
            GIT_AUTHOR_EMAIL="docs@example.invalid",
            GIT_COMMITTER_NAME="docs",
            GIT_COMMITTER_EMAIL="docs@example.invalid",
            GIT_CONFIG_NOSYSTEM="1",
        )

    def latest_run(self) -> str | None:
        if not (self.folder / "audit.sqlite").exists():
            return None
        store = audit.open_store(str(self.folder / "audit.sqlite"))
        try:
            runs = store.runs()
        finally:
            store.close()
        return runs[-1]["run_id"] if runs else None

    def run(self, command: str) -> subprocess.CompletedProcess:
        latest = self.latest_run()
        if latest is not None:  # a run id from the page stands for this page's latest run
            command = RUN_ID.sub(lambda m: latest[: len(m[0])], command)
        return subprocess.run(
            ["bash", "-c", command],
            cwd=self.folder,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            timeout=300,
        )


EXAMPLE_PAGES = [page for page in PAGES if any(b.is_example for b in blocks(page))]


def test_the_pages_have_examples_and_every_fence_is_closed():
    assert len(EXAMPLE_PAGES) >= 6  # README, audit, check, dmn, evaluate, publishing...
    assert [problem for page in PAGES for problem in parse(page)[1]] == []


@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_shell_example_runs_and_prints_what_the_page_shows(page, tmp_path):
    if shutil.which("bash") is None or shutil.which("git") is None:
        from tests.conftest import require_system_tool

        require_system_tool("bash and git", "bash or git not found", "apt-get install bash git")
    sandbox = Sandbox(tmp_path / "sandbox")
    problems, ran, not_run = [], 0, []
    for block in blocks(page):
        if not block.is_example:
            continue
        whole, skipped_lines = block.not_run()
        if whole is not None:
            not_run.append(f"{block.where}: {whole}")
            continue
        for command in block.before():
            done = sandbox.run(command)
            if done.returncode not in (0, 1):
                problems.append(f"{block.where}: set-up `{command}` exited {done.returncode}:\n{done.stdout}")
        for command in block.commands():
            why = next((why for prefix, why in skipped_lines if command.text.startswith(prefix)), None)
            if why is not None:
                not_run.append(f"{block.where}: `{command.text}`: {why}")
                continue
            done = sandbox.run(command.text)
            ran += 1
            if done.returncode not in (0, 1):
                problems.append(f"{block.where}: `{command.text}` exited {done.returncode}:\n{done.stdout}")
            elif command.shown is not None and not shows(command.shown, done.stdout):
                problems.append(
                    f"{block.where}: `{command.text}` prints\n{normalized(done.stdout)}\n"
                    f"--- but the page shows\n{normalized(chr(10).join(command.shown))}"
                )
    print(f"{page.name}: {ran} commands run; not run: {not_run or 'none'}")
    assert ran or not_run, f"{page.name}: examples found but none run and none marked"
    assert not problems, "\n\n".join(problems)


def test_placeholders_and_elisions_are_understood():
    assert shows(["a …", "…", "z"], "a b c\nx\ny\nz")
    assert not shows(["a", "z"], "a\nb\nz")
    assert shows(
        ["run 20261125-150635-e7bb16 of 2026-11-25T15:06:35+00:00 by root (rules x)"],
        "run 20260101-000000-abcdef of 2026-01-01T00:00:00+00:00 by li (rules x)",
    )
    assert _without_comment('kade x "a # b"   # note') == 'kade x "a # b"'
    block = Block(ROOT / "README.md", 1, "", ["$ kade a", "out 1", "$ kade b", "out 2"])
    assert [(c.text, c.shown) for c in block.commands()] == [("kade a", ["out 1"]), ("kade b", ["out 2"])]
