"""Which rules the buttons use, loaded once and reloaded when a manager saves a
rule workbook (a server runs for weeks; a button press must not pay for
parsing every table each time).

A rule file can be caught half-written while it is being saved, or saved with a
mistake: then the last rules that loaded stay in use, the problem is logged and
``problem`` says what it is (``kade serve`` reports it on /health) until the
files load again."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from pathlib import Path

import engine
from engine.model import RuleSet
from engine.model.rulebook import default_rules_path

log = logging.getLogger("kade.serve")
RETRY_SECONDS = 2.0  # files that did not load are tried again after this, even unchanged


class RulesSource:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_rules_path()
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._rules: RuleSet | None = None
        self.loaded_at: dt.datetime | None = None
        self.problem: str | None = None  # why the files on disk do not load; None when they do
        self._failed: tuple[tuple, float] | None = None  # (signature, when) of files that did not load

    def _current_signature(self) -> tuple:
        # a single workbook also reads its siblings' glossary: watch the folder
        folder = self.path if self.path.is_dir() else self.path.parent
        signature = []
        try:
            for entry in sorted(os.scandir(folder), key=lambda e: e.name):
                try:  # a file saved by rename comes and goes while we look
                    if entry.is_file():
                        info = entry.stat()
                        signature.append((entry.name, info.st_mtime_ns, info.st_size))
                except OSError:
                    signature.append((entry.name, -1, -1))
        except OSError:
            return ()
        return tuple(signature)

    def load(self) -> RuleSet:
        """The rules, re-read if any file in the rules folder changed. Raises
        RuleError only when no rules have loaded yet; afterwards files that do not
        load leave the last rules in use (see the module docstring)."""
        with self._lock:
            signature = self._current_signature()
            if self._rules is not None and signature == self._signature:
                return self._rules
            if self._rules is not None and self._failed is not None:
                failed, when = self._failed
                if signature == failed and time.monotonic() - when < RETRY_SECONDS:
                    return self._rules
            try:
                rules = engine.load_rules(self.path)
            except Exception as exc:  # a half-written file fails in any layer; keep serving
                if self._rules is None:
                    raise
                self._failed, self.problem = (signature, time.monotonic()), _short(exc)
                log.warning(
                    "the rules in %s changed and do not load; still using those loaded at %s: %s",
                    self.path,
                    self.loaded_at.isoformat(timespec="seconds") if self.loaded_at else "start",
                    self.problem,
                )
                return self._rules
            if self.problem is not None:
                log.warning("the rules in %s load again", self.path)
            self._rules, self._signature, self._failed, self.problem = rules, signature, None, None
            self.loaded_at = dt.datetime.now()
            return rules


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 2000 else text[:2000] + "…"
