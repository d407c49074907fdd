"""Start-up: `kade --help` and the light commands must not import the heavy
libraries (pandas, pyarrow) nor the evaluation pipeline; the library API is
still reachable as ``engine.<name>``. How long start-up takes is measured in
benchmarks/bench_startup.py, not here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "engine.pipeline", "engine.evaluation.decisions")


def _modules_after(code: str) -> set[str]:
    """Top modules imported by a fresh interpreter running ``code``."""
    probe = code + "\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True)
    return set(out.stdout.split())


def test_help_imports_no_heavy_module():
    loaded = _modules_after(
        "import sys\nsys.argv = ['kade', '--help']\nimport cli\ntry:\n    cli.main()\nexcept SystemExit:\n    pass"
    )
    assert "cli" in loaded and "click" in loaded
    assert not [m for m in HEAVY if m in loaded]


def test_rule_loading_imports_no_pandas_or_arrow(tmp_path):
    """Reading rule tables is light. (A glossary value computed from a table - the
    shipped ★ cut-off - runs that table when the rules load, and that needs the
    evaluator: the shipped rules load it, a rule set without one does not.)"""
    from tests.workbook_factory import small_model

    folder = small_model(tmp_path / "rules")
    loaded = _modules_after(f"import engine\nengine.load_rules({str(folder)!r})")
    assert "engine.model.rulebook" in loaded
    assert "pandas" not in loaded and "pyarrow" not in loaded


def test_api_names_load_on_first_use():
    import engine

    rules = engine.load_rules(ROOT / "rules")
    assert isinstance(rules, engine.RuleSet)
    assert set(engine.__all__) <= set(dir(engine))
    for name in engine.__all__:
        assert getattr(engine, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'evaluate_everything'"):
        engine.evaluate_everything  # noqa: B018
