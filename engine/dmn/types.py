"""DMN types as kade evaluates them: the four S-FEEL base types, allowed values,
structures (item components) and collections - and the two things the DMN
semantics do with a type: decide whether a value *conforms* to it, and turn a
plain Python value into a one-row column of it (a value that does not conform
becomes null, as DMN 1.5 says for inputs, parameters and results)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from engine import feel
from engine.evaluation.columns import Column, literal_value
from engine.feel import feel_literal

BASE_TYPES = {
    "number": feel.NUMBER,
    "string": feel.STRING,
    "boolean": feel.BOOLEAN,
    "date": feel.DATE,
    # DMN 1.1 models often use XML Schema names
    "decimal": feel.NUMBER,
    "double": feel.NUMBER,
    "float": feel.NUMBER,
    "integer": feel.NUMBER,
    "int": feel.NUMBER,
    "long": feel.NUMBER,
    "short": feel.NUMBER,
}
ANY_TYPES = {"Any", "any", "anyType", "anySimpleType"}
# FEEL types outside S-FEEL as kade implements it: refused where a model uses them
UNSUPPORTED_TYPES = {
    "time",
    "date and time",
    "dateTime",
    "years and months duration",
    "yearMonthDuration",
    "days and time duration",
    "dayTimeDuration",
    "duration",
    "context",
    "list",
    "range",
    "function",
}


@dataclass(frozen=True)
class FeelType:
    """What a typeRef means. ``base`` is None for Any and for structures."""

    name: str
    base: str | None = None
    allowed: object = None  # unary-tests AST
    allowed_values: tuple = ()  # the literal values of ``allowed``, in order (priority for P / O)
    components: tuple = ()  # ((name, FeelType), ...) of a structure
    collection: bool = False
    allowed_text: str = field(default="", compare=False)

    @property
    def structured(self) -> bool:
        return bool(self.components)

    def element(self) -> FeelType:
        """The type of one item of a collection."""
        return dataclasses.replace(self, collection=False)


def local_type_name(type_ref: str) -> str:
    """'feel:number' / 'xsd:string' -> 'number' / 'string'; 'Any' stays."""
    text = " ".join(type_ref.split())
    if ":" in text and not text.startswith("date and"):
        text = text.split(":", 1)[1]
    return text


def kind_of(value) -> str | None:
    """The FEEL kind of a plain Python value (None for null)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return feel.BOOLEAN
    if isinstance(value, (int, float, Decimal)):
        return feel.NUMBER
    if isinstance(value, str):
        return feel.STRING
    if isinstance(value, dt.datetime):
        return "date and time"
    if isinstance(value, dt.date):
        return feel.DATE
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "context"
    return type(value).__name__


def conforms(value, type_: FeelType | None) -> bool:
    """DMN's 'conforms to': null conforms to every type."""
    if type_ is None or value is None:
        return True
    if type_.collection:
        return isinstance(value, list) and all(conforms(v, type_.element()) for v in value)
    if type_.structured:
        return (
            isinstance(value, dict)
            and set(value) <= {k for k, _ in type_.components}
            and all(conforms(value.get(k), t) for k, t in type_.components)
        )
    kind = kind_of(value)
    if type_.base is not None and kind != type_.base:
        return False
    if type_.allowed is not None and kind is not None:
        return _allowed(value, kind, type_.allowed)
    return True


def _allowed(value, kind: str, test) -> bool:
    from engine.evaluation.vectorized import test_mask  # the same matching as decision tables

    return bool(test_mask(test, column_of(value, kind), {})[0])


def null_column(base: str | None, n: int = 1) -> Column:
    if base in (feel.NUMBER, feel.BOOLEAN, feel.DATE):
        return Column(base, np.full(n, np.nan))
    return Column(base or feel.STRING, np.full(n, None, dtype=object))


def column_of(value, base: str | None) -> Column:
    """A one-row column holding ``value`` (a Python value of kind ``base``)."""
    kind = kind_of(value)
    if value is None or kind not in feel.TYPES:
        return null_column(base)
    if kind in (feel.NUMBER, feel.BOOLEAN, feel.DATE):
        stored = literal_value(kind, value if kind != feel.NUMBER else float(value))
        return Column(kind, np.array([stored], dtype=float))
    values = np.empty(1, dtype=object)
    values[0] = value
    return Column(kind, values)


def conforming_column(value, type_: FeelType | None) -> tuple[Column, str | None]:
    """(column, problem): a value that does not conform to ``type_`` becomes null,
    and ``problem`` says why."""
    base = type_.base if type_ is not None else None
    kind = kind_of(value)
    if kind not in (None, *feel.TYPES):
        return null_column(base), f"{feel_literal(value)} is a {kind} value, which kade does not evaluate"
    if conforms(value, type_):
        return column_of(value, base or kind), None
    return null_column(base), f"{feel_literal(value)} does not conform to type {type_.name if type_ else 'Any'}"


def python_value(column: Column, row: int = 0):
    """One cell of a column as a plain Python value (lists stay lists)."""
    value = column.python_values(np.array([row]))[0] if column.is_float else column.values[row]
    return _plain(value)


def _plain(value):
    """numpy scalars to Python ones, NaN to None, inside lists too."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
