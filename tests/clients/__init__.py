"""xlwings' own clients, driving a model of Excel, for the tests and the benchmark.

* ``office_scripts`` runs xlwings' Office Scripts client (``js/xlwings.ts`` from the
  installed xlwings package, unchanged) in node (tests/node/office_scripts.mjs)
  against a fake ``ExcelScript.Workbook`` backed by arrays.
* ``remote_bas`` is xlwings' VBA client (``addin/Remote.bas``), which cannot run
  on Linux, transcribed line by line with the Remote.bas line beside each line.
  It is the one place the client's behaviour is modelled.
* ``excel`` is the model of Excel itself both drive: sheets (chart sheets too),
  cells, fills, the active sheet and the selection, and how Excel reads text put
  into a cell.
"""
