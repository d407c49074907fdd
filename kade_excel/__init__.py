"""Kept for button workbooks built before kade 0.2: their macros call
``import kade_excel.desktop as kade; kade.evaluate()``. The Excel front end now
lives in ``engine.excel``."""
