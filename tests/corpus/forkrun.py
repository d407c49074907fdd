"""Run many `kade` commands, each in a process of its own, without paying the
interpreter start and the imports each time: this process imports kade once,
then for every command read from stdin (a JSON line: argv, cwd, env, stdout,
stderr, timeout) forks a child that runs ``cli.main`` - the `kade` entry point -
with its output going to the files named. The child's exit status, or the
signal that killed it (negative), or -999 when it had to be killed after
``timeout`` seconds, is written back as a JSON line. POSIX only (fork).

    python tests/corpus/forkrun.py < jobs.jsonl
"""

from __future__ import annotations

import io
import json
import os
import signal
import sys
import time
import traceback

# what the commands import, once (the children inherit it)
import cli
import engine.analysis.rules_check
import engine.dmn.workbook
import engine.io.writers
import engine.io.xlsx_copy
import engine.pipeline  # noqa: F401


def _child(job: dict) -> int:
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    for fd, path in ((1, job["stdout"]), (2, job["stderr"])):
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), encoding="utf-8")
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), encoding="utf-8")
    code = 0
    try:
        cli.main(job["argv"], prog_name="kade")
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # what Python would print for an uncaught exception
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    return code


def _wait(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -999
        time.sleep(0.005)


def main() -> None:
    for line in sys.stdin:
        job = json.loads(line)
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(job)
            finally:
                os._exit(code)
        print(json.dumps({"status": _wait(pid, job["timeout"])}), flush=True)


if __name__ == "__main__":
    main()
