"""FEEL text to tokens: numbers, strings, names (multi-word ones from the scope),
operators; full-width punctuation folded in rule workbooks (the Excel dialect)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from engine.errors import FeelSyntaxError, Position

# one character for one, so error offsets still point into the cell as written. Chinese input
# methods type full-width forms: ＞＝450, ［1．．10］, “金融”、“政府”
_FULL_WIDTH = str.maketrans(
    {
        "，": ",",
        "、": ",",
        "（": "(",
        "）": ")",
        "“": '"',
        "”": '"',
        "　": " ",
        "【": "[",
        "】": "]",
        "［": "[",
        "］": "]",
        "＞": ">",
        "＜": "<",
        "＝": "=",
        "！": "!",
        "－": "-",
        "＋": "+",
        "＊": "*",
        "／": "/",
        "．": ".",
        "％": "%",
        **{chr(0xFF10 + d): str(d) for d in range(10)},  # full-width digits ０-９
    }
)
_QUOTES = ('"', "“", "”")
_SIGNS = {"≥": ">=", "≤": "<=", "≠": "!=", "≧": ">=", "≦": "<="}

_OPERATORS = ("..", "<=", ">=", "!=", "**", "<", ">", "=", "(", ")", "[", "]", ",", "+", "-", "*", "/")
_NUMBER_RE = re.compile(r"(\d+(\.\d+)?|\.\d+)([eE][+-]?\d+)?")  # 1200, 1.5, .5, 1.23e4
KEYWORDS = {"true", "false", "null", "not", "and", "or"}


@dataclass(frozen=True)
class Token:
    kind: str  # 'number' 'string' 'name' 'op' 'bad' 'end'
    text: str
    offset: int
    value: Any = None  # the number (Decimal) or string a number/string token stands for


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_?" or ord(ch) > 0x2E7F


class KnownNames:
    """Names in scope that the plain tokenizer would split (``Monthly Salary``,
    ``Approved/Declined``, ``Applicant Data.Monthly Income``). The longest one
    that starts at a position wins, as FEEL's name resolution does; runs of
    whitespace inside a name match any whitespace."""

    def __init__(self, names):
        special = sorted({" ".join(n.split()) for n in names if n and not _is_plain_name(n)}, key=len, reverse=True)
        self._regex: re.Pattern[str] | None
        if special:
            alternatives = "|".join(r"\s+".join(re.escape(word) for word in n.split(" ")) for n in special)
            self._regex = re.compile(f"(?:{alternatives})(?![\\w?])")
        else:
            self._regex = None

    def match(self, text: str, start: int) -> int | None:
        """End of the known name starting at ``start``, or None."""
        if self._regex is None:
            return None
        found = self._regex.match(text, start)
        return found.end() if found else None


def _is_plain_name(name: str) -> bool:
    """A name the plain tokenizer reads as one token (``annual_revenue``, ``Loan.amount``)."""
    return (
        bool(name)
        and all(_is_name_char(ch) or ch == "." for ch in name)
        and not name[0].isdigit()
        and ".." not in name
        and not name.endswith(".")
    )


@dataclass(frozen=True)
class Dialect:
    """How text is read. ``EXCEL`` (the default) is what managers type in rule
    workbooks: full-width punctuation is folded to ASCII, no function calls.
    ``Dialect.feel(names)`` is DMN XML text: taken literally, with invocations,
    FEEL's string escapes and the multi-word names in scope."""

    fold_punctuation: bool = True
    calls: bool = False
    names: KnownNames | None = None
    feel_escapes: bool = False  # FEEL's \uXXXX and \r inside strings
    comments: bool = False  # FEEL's // and /* */ comments

    @staticmethod
    def feel(names=()) -> Dialect:
        known = names if isinstance(names, KnownNames) else KnownNames(names)
        return Dialect(fold_punctuation=False, calls=True, names=known, feel_escapes=True, comments=True)


EXCEL = Dialect()


def normalize(text: str) -> str:
    """Full-width punctuation to ASCII, so ``“金融”，“政府”`` reads as ``"金融","政府"``
    and ``＞＝450`` as ``>=450``. Text inside quotes is kept as typed (a value
    may hold full-width characters); the quotes themselves are folded."""
    if text.isascii():
        return text
    out, quoted, escaped = [], False, False
    for ch in text:
        if quoted and (escaped or ch == "\\"):
            escaped = not escaped and ch == "\\"
            out.append(ch)
        elif ch in _QUOTES:
            quoted = not quoted
            out.append('"')
        else:
            out.append(ch if quoted else ch.translate(_FULL_WIDTH))
    return "".join(out)


def tokenize(text: str, dialect: Dialect = EXCEL) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if dialect.comments and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if dialect.comments and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise FeelSyntaxError(f"comment starting at character {i + 1} has no closing */", Position(offset=i))
            i = end + 2
            continue
        if ch == '"':
            j, chars = i + 1, []
            while j < n and text[j] != '"':
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    if dialect.feel_escapes and nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", text[j + 2 : j + 6]):
                        chars.append(chr(int(text[j + 2 : j + 6], 16)))  # FEEL's \uXXXX
                        j += 6
                        continue
                    escapes = {"n": "\n", "t": "\t", "r": "\r"} if dialect.feel_escapes else {"n": "\n", "t": "\t"}
                    chars.append(escapes.get(nxt, nxt))
                    j += 2
                    continue
                chars.append(text[j])
                j += 1
            if j >= n:
                raise FeelSyntaxError(f"string starting at character {i + 1} has no closing quote", Position(offset=i))
            tokens.append(Token("string", text[i : j + 1], i, "".join(chars)))
            i = j + 1
            continue
        known = dialect.names.match(text, i) if dialect.names is not None and not ch.isdigit() else None
        if known is not None:
            j = known
            while j + 1 < n and text[j] == "." and _is_name_char(text[j + 1]):  # a path into the named value
                j += 1
                while j < n and _is_name_char(text[j]):
                    j += 1
            tokens.append(Token("name", " ".join(text[i:j].split()), i))
            i = j
            continue
        number = (
            _NUMBER_RE.match(text, i) if (ch.isdigit() or (ch == "." and i + 1 < n and text[i + 1].isdigit())) else None
        )
        if number:
            j = number.end()
            if j < n and _is_name_char(text[j]):
                # '1o0', '12abc': a number glued to letters is neither a number nor a name.
                while j < n and _is_name_char(text[j]):
                    j += 1
                tokens.append(Token("bad", text[i:j], i))
            else:
                tokens.append(Token("number", text[i:j], i, float(text[i:j])))
            i = j
            continue
        if _is_name_char(ch):
            j = i
            while j < n and (
                _is_name_char(text[j])
                or (text[j] == "." and j + 1 < n and _is_name_char(text[j + 1]) and text[j + 1] != ".")
            ):
                j += 1
            tokens.append(Token("name", text[i:j], i))
            i = j
            continue
        if ch in _SIGNS:
            tokens.append(Token("op", _SIGNS[ch], i))
            i += 1
            continue
        if ch == ":" and dialect.calls:  # named argument f(p: 1)
            tokens.append(Token("op", ":", i))
            i += 1
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            j = i + 1
            while j < n and not text[j].isspace():
                j += 1
            tokens.append(Token("bad", text[i:j], i))
            i = j
    tokens.append(Token("end", "", n))
    return tokens
