"""What the benchmark scripts share: the machine and kade version a report names,
a process's own peak memory, recording an audited run, and replacing a script's
section of docs/performance.md."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"


def vm_hwm_mb() -> float:
    """This process's peak RSS (/proc/self/status VmHWM), MB: its own, from its exec on."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory = next(
        (
            int(line.split()[1]) / 1024 / 1024
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return f"{cpu}, nproc = {os.cpu_count()}, {memory:.0f} GiB RAM, Python {platform.python_version()}"


def code_version() -> str:
    """The commit measured, and whether engine/ or cli.py had uncommitted changes."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "engine", "cli.py"], capture_output=True, text=True, cwd=ROOT
    )
    return head.stdout.strip() + (" + uncommitted changes" if dirty.stdout.strip() else "")


def kade_command() -> list[str]:
    found = shutil.which("kade")
    return [found] if found else [sys.executable, str(ROOT / "cli.py")]


def record_run(evaluation, database: Path, workbook: Path, command: str) -> int:
    """Record an evaluation in a fresh audit store (SQLite); returns its size in bytes."""
    import engine
    from engine import audit

    store = audit.open_store(str(database))
    try:
        audit.record(
            store,
            evaluation,
            command=command,
            engine="vectorized",
            origin=audit.Origin(workbook=str(workbook)),
            version=engine.__version__,
        )
    finally:
        store.close()
    return sum(p.stat().st_size for p in database.parent.glob(database.name + "*"))


def write_section(start: str, end: str, text: str, heading: str = "") -> None:
    """Replace the text between the ``start`` and ``end`` markers of docs/performance.md;
    the first time, append ``heading`` and the marked text at the end."""
    doc = DOCS.read_text(encoding="utf-8")
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        doc = doc[: doc.index(start)] + block + doc[doc.index(end) + len(end) :]
    else:
        doc = doc.rstrip("\n") + "\n\n" + heading + block + "\n"
    DOCS.write_text(doc, encoding="utf-8")
