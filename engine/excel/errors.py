"""Typed errors of the Excel front end. Each one's text is what the user sees:
the VBA client shows it in a message box, the CLI prints it."""

from __future__ import annotations

from engine.errors import KadeError


class ExcelFrontEndError(KadeError):
    """Base of every error the Excel front end raises on purpose."""


class PayloadError(ExcelFrontEndError):
    """A request body that is not an xlwings client payload kade can read."""


class SelectionError(ExcelFrontEndError):
    """Why? needs one selected data row on a sheet kade decides."""


class BuildError(ExcelFrontEndError):
    """The button workbook cannot be built (no xlwings template, bad source, wrong suffix)."""


class ServeError(ExcelFrontEndError):
    """`kade serve` refuses to start as configured (e.g. a public address without a token)."""


class InPlaceRefused(ExcelFrontEndError):
    """Writing into the user's workbook would lose or damage something; nothing was written."""


class WorkbookLocked(InPlaceRefused):
    """Another writer (kade, Excel or LibreOffice) has the workbook open."""
