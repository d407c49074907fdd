"""kade's Excel front end: buttons in the users' workbooks.

* ``handlers``  — Evaluate, Why?, Check rules, written once over ``port.WorkbookPort``
* ``protocol``  — xlwings' wire protocol (payload -> port, port writes -> JSON actions)
* ``server``    — ``kade serve``: Starlette/uvicorn endpoints /xlwings/evaluate|why|check
* ``desktop``   — the port over ``xw.Book.caller()`` and the RunPython entry points
* ``build``     — ``kade excel workbook``: the .xlsm with xlwings' BSD VBA and the buttons
* ``inplace``   — ``kade evaluate --in-place``: write into the user's .xlsx, safely
* ``layout``    — where kade's columns go in a data sheet
* ``rules_source`` — which rules, reloaded when a rule workbook changes

What the xlwings clients do with the actions is proven against their own code
(tests/clients: xlwings.ts run in node, Remote.bas transcribed line by line).

Licence boundary: nothing here imports ``xlwings.pro``. Only ``desktop``
imports xlwings at all (its BSD desktop API), and only when a button runs.
Submodules are imported on use, so ``kade serve`` never loads xlwings and
``kade excel workbook`` never loads the web stack.
"""
