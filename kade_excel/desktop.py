"""The desktop buttons' entry points under their pre-0.2 name (see ``kade_excel``)."""

from engine.excel.desktop import check, evaluate, why

__all__ = ["check", "evaluate", "why"]
