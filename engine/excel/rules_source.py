"""Which rules the buttons use, loaded once and reloaded when a manager saves a
rule workbook (a server runs for weeks; a button press must not pay for
parsing every table each time)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import engine
from engine.model import RuleSet
from engine.model.rulebook import default_rules_path


class RulesSource:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_rules_path()
        self._lock = threading.Lock()
        self._signature: tuple | None = None
        self._rules: RuleSet | None = None

    def _current_signature(self) -> tuple:
        # a single workbook also reads its siblings' glossary: watch the folder
        folder = self.path if self.path.is_dir() else self.path.parent
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            return ()
        return tuple((e.name, e.stat().st_mtime_ns, e.stat().st_size) for e in entries if e.is_file())

    def load(self) -> RuleSet:
        """The rules, re-read if any file in the rules folder changed. Raises RuleError."""
        with self._lock:
            signature = self._current_signature()
            if self._rules is None or signature != self._signature:
                self._rules = engine.load_rules(self.path)
                self._signature = signature
            return self._rules
