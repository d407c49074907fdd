"""Errors of the DMN path. Positions name the .dmn file and the id of the
element at fault (``model.dmn!#_7f03803d-0``), plus the character offset in
the element's text for FEEL syntax errors."""

from __future__ import annotations

from engine.errors import Position, RuleError


class DmnError(RuleError):
    """A DMN model that cannot be loaded (exit status 2, like bad rule tables)."""


class DmnXmlError(DmnError):
    """Not well-formed XML, not DMN, or a construct the hardened parser refuses
    (DTD, entity declarations, external references)."""


class UnsupportedDmnError(DmnError):
    """Valid DMN that goes beyond what kade evaluates (full FEEL, contexts, boxed
    expressions other than decision tables, literal expressions and invocations).
    Refused at load so that kade never gives a wrong answer."""


def element_position(file: str | None, element_id: str | None, offset: int | None = None) -> Position:
    return Position(file=file, cell=f"#{element_id}" if element_id else None, offset=offset)
