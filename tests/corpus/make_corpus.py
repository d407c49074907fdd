#!/usr/bin/env python3
"""The bad-input corpus: broken, hostile and odd files and requests, each with the
clean outcome kade must give - an exit status of 0, 1 or 2 (an HTTP status for
`kade serve`) and a message naming file, sheet and cell where there is one.

Every case is made here from the shipped sample register, rules and a Camunda
model, by editing their XML or bytes, so the repository holds no binary of
them. ``tests/test_bad_input.py`` runs each case through the real `kade`
command (or a real `kade serve`) and checks the rest: no traceback, no signal,
no hang, input bytes unchanged.

    python tests/corpus/make_corpus.py OUT_DIR          # write the corpus to look at
    python tests/corpus/make_corpus.py OUT_DIR --slow   # with the multi-GB cases

Each case is a folder ``OUT_DIR/<name>/`` with its input files; the commands
to run and what they must answer are in ``cases()``.
"""

from __future__ import annotations

import json
import re
import shutil
import struct
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "workbooks" / "key_accounts.xlsx"
RULES = ROOT / "rules"
CAMUNDA = ROOT / "tests" / "data" / "camunda" / "dinnerDecisions.dmn"
CLIENTS_PART = "xl/worksheets/sheet1.xml"  # 客户 in the sample register
OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass
class Run:
    """One command and what it must answer."""

    argv: list[str]  # after `kade`; {dir} is the case's folder, {rules} its rules folder
    exits: tuple[int, ...]
    says: tuple[str, ...] = ()  # in stdout, stderr or the file written (out.json, out.csv/*)


@dataclass
class Case:
    name: str
    runs: list[Run] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    request: tuple[str, bytes] | None = None  # kade serve: (endpoint, body)
    statuses: tuple[int, ...] = ()  # kade serve: the HTTP statuses allowed
    check: Callable[[Path], None] | None = None  # more about what was written
    slow: bool = False


# --------------------------------------------------------------- file edits ----


def edit_xlsx(source: Path, target: Path, edits: dict[str, Callable[[bytes], bytes]], extra=None) -> Path:
    """A copy of an .xlsx with some parts rewritten (and ``extra`` parts added)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            zout.writestr(info.filename, edits[info.filename](data) if info.filename in edits else data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return target


def set_cell(ref: str, xml: str) -> Callable[[bytes], bytes]:
    """Replace cell ``ref`` of a sheet part with ``xml``."""

    def edit(part: bytes) -> bytes:
        pattern = rb'<c r="' + ref.encode() + rb'"[^>]*?(/>|>.*?</c>)'
        new, n = re.subn(pattern, xml.encode("utf-8").replace(b"\\", b"\\\\"), part, count=1, flags=re.S)
        assert n == 1, f"no cell {ref}"
        return new

    return edit


def inline_text(ref: str, text: str) -> Callable[[bytes], bytes]:
    """Cell ``ref`` holding ``text`` (as an inline string)."""
    return set_cell(ref, f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')


def add_rows(xml: str) -> Callable[[bytes], bytes]:
    return lambda part: part.replace(b"</sheetData>", xml.encode("utf-8") + b"</sheetData>", 1)


def add_doctype(doctype: str) -> Callable[[bytes], bytes]:
    def edit(part: bytes) -> bytes:
        at = part.index(b"?>") + 2 if part.startswith(b"<?xml") else 0
        return part[:at] + doctype.encode() + part[at:]

    return edit


def sheet_part(path: Path, sheet: str) -> str:
    """The zip part of the sheet so named."""
    with zipfile.ZipFile(path) as zf:
        workbook = zf.read("xl/workbook.xml").decode()
        rels = zf.read("xl/_rels/workbook.xml.rels").decode()
    rid = re.search(r'<sheet [^>]*name="' + re.escape(sheet) + r'"[^>]*r:id="([^"]+)"', workbook)[1]
    target = re.search(r'<Relationship [^>]*Id="' + rid + r'"[^>]*Target="([^"]+)"', rels)
    if target is None:
        target = re.search(r'<Relationship [^>]*Target="([^"]+)"[^>]*Id="' + rid + '"', rels)
    return "xl/" + target[1].lstrip("/").removeprefix("xl/")


def _central_entries(data: bytearray, part: str):
    """Offsets of the central-directory entries naming ``part``."""
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        n = struct.unpack_from("<H", data, at + 28)[0]
        if data[at + 46 : at + 46 + n] == part.encode():
            yield at
        at = data.find(b"PK\x01\x02", at + 4)


def lie_about_size(path: Path, part: str, declared: int) -> None:
    """Make the zip entry of ``part`` declare ``declared`` bytes unpacked (both headers)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(part)
    struct.pack_into("<I", data, info.header_offset + 22, declared)
    for at in list(_central_entries(data, part)):
        struct.pack_into("<I", data, at + 24, declared)
    path.write_bytes(bytes(data))


def set_zip_flag(path: Path, part: str, flag: int) -> None:
    """Set a general-purpose flag bit on one entry (1: 'encrypted')."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(part)
    struct.pack_into("<H", data, info.header_offset + 6, info.flag_bits | flag)
    for at in list(_central_entries(data, part)):
        struct.pack_into("<H", data, at + 8, info.flag_bits | flag)
    path.write_bytes(bytes(data))


def big_text_part(chars: int) -> Callable[[bytes], bytes]:
    """A sheet whose B2 is text of ``chars`` characters: deflates to almost nothing."""
    return set_cell("B2", '<c r="B2" t="inlineStr"><is><t>' + "A" * chars + "</t></is></c>")


def ole2_file(path: Path, stream_name: str = "Workbook") -> Path:
    """The first sector of an OLE2 compound file (what .xls and encrypted Office
    files are) and a directory entry naming ``stream_name``."""
    header = OLE2 + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + bytes(512 - 34)
    entry = stream_name.encode("utf-16-le").ljust(64, b"\0") + struct.pack("<HBB", len(stream_name) * 2 + 2, 2, 1)
    path.write_bytes(header + entry.ljust(128, b"\0") * 4 + bytes(1024))
    return path


# ------------------------------------------------------------------- checks ----


def _json_rows(folder: Path, sheet: str = "客户") -> list[dict]:
    return json.loads((folder / "out.json").read_text(encoding="utf-8"))["sheets"][sheet]


def _row(folder: Path, key: str, sheet: str = "客户") -> dict:
    return next(r for r in _json_rows(folder, sheet) if r.get("客户编号") == key)


def _check_error_cell(folder: Path) -> None:
    row = _row(folder, "C0001")
    assert row["client_tier"] is None and row["kade.errors"] == "年收入(百万元): #DIV/0! (E2)", row


def _check_full_width(folder: Path) -> None:
    row = _row(folder, "C0001")
    assert row["client_tier"] == "platinum" and row["kade.errors"] is None, row


def _check_long_key(folder: Path) -> None:
    keys = [r["客户编号"] for r in _json_rows(folder)]
    assert "K" * 40_000 in keys  # JSON keeps the whole text: nothing is cut on reading


def _check_csv_injection(folder: Path) -> None:
    text = (folder / "out.csv" / "客户.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK(" in text and "'=cmd|' /C calc'!A0" in text and "'@SUM(1+1)" in text, text[:500]
    assert not re.search(r"(^|,)=HYPERLINK", text, re.M)


def _check_copy_opens(folder: Path) -> None:
    import openpyxl

    book = openpyxl.load_workbook(folder / "out.xlsx", read_only=True)
    assert "客户" in book.sheetnames
    book.close()


# -------------------------------------------------------------------- cases ----


def evaluate(*says: str, exits=(1,), output="out.json") -> Run:
    """The sample register has bad rows: a run that reads it exits 1."""
    return Run(
        ["evaluate", "{dir}/register.xlsx", "--rules", "{rules}", "--no-audit", "-o", "{dir}/" + output], exits, says
    )


def rules_check(*says: str, exits=(2,)) -> Run:
    return Run(["rules", "check", "{rules}"], exits, says)


def rules_import(*says: str, exits=(2,)) -> Run:
    return Run(["rules", "import", "{dir}/model.dmn", "-o", "{dir}/imported.xlsx"], exits, says)


def register_cases(folder: Path | None, slow: bool = False) -> list[Case]:
    made: list[Case] = []

    def case(name: str, *runs: Run, make: Callable[[Path], object], heavy: bool = False, **options) -> None:
        if folder is not None and (slow or not heavy):
            where = folder / name
            where.mkdir(parents=True, exist_ok=True)
            make(where / "register.xlsx")
        made.append(Case(name, list(runs), slow=heavy, **options))

    clients = CLIENTS_PART

    def edited(edit: Callable[[bytes], bytes]) -> Callable[[Path], object]:
        """The sample register with its 客户 sheet edited."""
        return lambda p: edit_xlsx(SAMPLE, p, {clients: edit})

    # 1. a far-away cell: calamine would ask for 550 GB and abort
    case(
        "far-cell-in-another-sheet",
        evaluate("register.xlsx!notes!XFD1048576", "more than kade reads", exits=(2,)),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {
                "xl/workbook.xml": lambda x: x.replace(
                    b"</sheets>", b'<sheet name="notes" sheetId="9" r:id="rId99"/></sheets>'
                ),
                "xl/_rels/workbook.xml.rels": lambda x: x.replace(
                    b"</Relationships>",
                    b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                    b'relationships/worksheet" Target="worksheets/sheet9.xml"/></Relationships>',
                ),
                "[Content_Types].xml": lambda x: x.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/worksheets/sheet9.xml" ContentType="application/'
                    b'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
                ),
            },
            extra={
                "xl/worksheets/sheet9.xml": '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
                'openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>'
                'notes</t></is></c></row><row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c>'
                "</row></sheetData></worksheet>"
            },
        ),
    )
    case(
        "far-cell-in-the-data",
        evaluate("register.xlsx!客户!XFD1048576", exits=(2,)),
        make=edited(add_rows('<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')),
    )
    case(
        "reference-outside-the-grid",
        evaluate("register.xlsx!客户!ZZZZZ99999999", "outside Excel's grid", exits=(2,)),
        make=edited(add_rows('<row r="400"><c r="ZZZZZ99999999"><v>1</v></c></row>')),
    )
    case(
        "prefixed-far-cell",
        evaluate("register.xlsx!客户!XFD1048576", exits=(2,)),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {
                clients: add_rows(
                    '<x:row xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" r="1048576">'
                    '<x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>'
                )
            },
        ),
    )
    case(
        "cells-without-references",
        evaluate(exits=(1,)),  # cells placed by counting, as calamine does: within the limits, decided
        make=edited(add_rows('<row r="5000"><c><v>1</v></c><c><v>2</v></c></row>')),
    )
    # 2. error values and formulas without a stored result
    case(
        "error-value-in-a-number",
        evaluate('"年收入(百万元): #DIV/0! (E2)"'),
        make=edited(set_cell("E2", '<c r="E2" t="e"><v>#DIV/0!</v></c>')),
        check=_check_error_cell,
    )
    case(
        "error-value-in-the-key",
        evaluate('"客户编号: #VALUE! (A3)"'),
        make=edited(set_cell("A3", '<c r="A3" t="e"><f>A1+1</f><v>#VALUE!</v></c>')),
    )
    case(
        "formula-without-a-stored-result",
        evaluate("formula =2000+2 has no stored result (E2)", "open and save the workbook in Excel"),
        make=edited(set_cell("E2", '<c r="E2"><f>2000+2</f><v></v></c>')),
    )
    case(
        "client-sheet-with-headers-only",
        evaluate('"客户编号 C0001 not found in sheet 客户"'),
        make=edited(lambda x: re.sub(rb'<row r="(?!1")[0-9]+".*?</row>', b"", x, flags=re.S)),
    )
    # 10. small ones
    case(
        "infinity",
        evaluate("cannot read 'inf' as a number"),
        make=edited(set_cell("E2", '<c r="E2"><v>1e309</v></c>')),
    )
    case(
        "infinity-as-text",
        evaluate("cannot read '1e309' as a number"),
        make=edited(inline_text("E2", "1e309")),
    )
    case(
        "full-width-digits",
        evaluate(),
        make=edited(inline_text("E2", "２，５６０")),
        check=_check_full_width,
    )
    case(
        "ten-thousands-written-in-chinese",
        evaluate("年收入(百万元): cannot read '100万' as a number"),
        make=edited(inline_text("E2", "100万")),
    )
    case(
        "forty-thousand-character-key",
        evaluate(),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {clients: set_cell("A2", '<c r="A2" t="inlineStr"><is><t>' + "K" * 40_000 + "</t></is></c>")},
        ),
        check=_check_long_key,
    )
    case(
        "csv-formula-injection",
        evaluate(output="out.csv"),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {
                clients: lambda x: set_cell(
                    "B2", '<c r="B2" t="inlineStr"><is><t>=HYPERLINK("http://evil.example","x")</t></is></c>'
                )(
                    set_cell("B3", '<c r="B3" t="inlineStr"><is><t>=cmd|\' /C calc\'!A0</t></is></c>')(
                        inline_text("B4", "@SUM(1+1)")(x)
                    )
                )
            },
        ),
        check=_check_csv_injection,
    )
    case(
        "doctype-in-a-sheet",
        evaluate("declares a DTD", output="out.xlsx"),
        make=edited(add_doctype("<!DOCTYPE worksheet>")),
        check=_check_copy_opens,
    )
    case(
        "xxe",
        evaluate("cannot read workbook", exits=(2,)),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {
                clients: lambda x: inline_text("B2", "&xxe;")(
                    add_doctype('<!DOCTYPE worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>')(x)
                )
            },
        ),
    )
    laughs = (
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )
    case(
        "billion-laughs",
        evaluate("cannot read workbook", exits=(2,)),
        make=lambda p: edit_xlsx(
            SAMPLE,
            p,
            {clients: lambda x: inline_text("B2", "&i;")(add_doctype(laughs)(x))},
        ),
    )
    # what the file really is
    case(
        "xls-named-xlsx",
        evaluate("Excel 97-2003 workbook (.xls) named .xlsx", exits=(2,)),
        make=lambda p: ole2_file(p),
    )
    case(
        "password-protected",
        evaluate("password-protected", exits=(2,)),
        make=lambda p: ole2_file(p, "EncryptedPackage"),
    )
    case(
        "zip-entry-encrypted",
        evaluate("password-protected", exits=(2,)),
        make=lambda p: set_zip_flag(Path(shutil.copy(SAMPLE, p)), CLIENTS_PART, 1),
    )
    case(
        "csv-named-xlsx",
        evaluate("a text (CSV) file named .xlsx", exits=(2,)),
        make=lambda p: p.write_text("客户编号,客户名称\nC0001,中国银联\n", encoding="utf-8-sig"),
    )
    case(
        "html-named-xlsx",
        evaluate("an HTML page", exits=(2,)),
        make=lambda p: p.write_text("<html><body><table><tr><td>1</td></tr></table></body></html>"),
    )
    case("empty-file", evaluate("empty", exits=(2,)), make=lambda p: p.write_bytes(b""))
    case(
        "truncated",
        evaluate("damaged or cut short", exits=(2,)),
        make=lambda p: p.write_bytes(SAMPLE.read_bytes()[: SAMPLE.stat().st_size * 6 // 10]),
    )
    case(
        "garbage",
        evaluate("not an Excel workbook", exits=(2,)),
        make=lambda p: p.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(40_000))),
    )
    # 7. sizes
    case(
        "zip-bomb",
        evaluate("unpacks to", "KADE_MAX_UNPACKED_MB", exits=(2,)),
        make=edited(big_text_part(40 << 20)),
        env={"KADE_MAX_UNPACKED_MB": "32"},
    )
    case(
        "size-that-lies",
        evaluate("inflates to more than", exits=(2,)),
        make=lambda p: lie_about_size(edit_xlsx(SAMPLE, p, {clients: big_text_part(4 << 20)}), CLIENTS_PART, 200_000),
    )
    case(
        "too-many-cells",
        evaluate("more than kade reads (10,000 cells", "KADE_MAX_CELLS", exits=(2,)),
        make=lambda p: shutil.copy(SAMPLE, p),
        env={"KADE_MAX_CELLS": "10000"},
    )
    case(
        "zip-bomb-2gb",
        evaluate("unpacks to", exits=(2,)),
        make=_two_gigabyte_text,
        heavy=True,
    )
    case(
        "million-rows-sixty-columns",
        evaluate("more than kade reads", exits=(2,)),
        make=_million_by_sixty,
        heavy=True,
    )
    return made


def _streamed_clients(path: Path, pieces) -> None:
    """The sample with its 客户 sheet replaced by the XML ``pieces`` (bytes), written
    as they come: GBs without holding them in memory."""
    with zipfile.ZipFile(SAMPLE) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != CLIENTS_PART:
                zout.writestr(info, zin.read(info))
        with zout.open(CLIENTS_PART, "w", force_zip64=True) as out:
            out.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for piece in pieces:
                out.write(piece)
            out.write(b"</sheetData></worksheet>")


def _two_gigabyte_text(path: Path) -> None:
    block = b"A" * (16 << 20)
    text = (block for _ in range(2200 // 16))
    _streamed_clients(path, [b'<row r="1"><c r="A1" t="inlineStr"><is><t>', *text, b"</t></is></c></row>"])


def _million_by_sixty(path: Path) -> None:
    """1,048,576 rows × 60 numeric columns."""
    from engine.io.xlsx_stream import col_letters

    letters = col_letters(60)
    _streamed_clients(
        path,
        (
            (f'<row r="{r}">' + "".join(f'<c r="{c}{r}"><v>{r}</v></c>' for c in letters) + "</row>").encode()
            for r in range(1, 1_048_577)
        ),
    )


def rule_cases(folder: Path | None) -> list[Case]:
    import engine
    from engine.errors import Position

    shipped = engine.load_rules(RULES)
    score = shipped.decision("client_score").rules[0].cells[-1]  # an output: a number
    tier_part = sheet_part(RULES / "client_tier.xlsx", "client_tier")
    score_part = sheet_part(RULES / "client_tier.xlsx", "client_score")
    with zipfile.ZipFile(RULES / "client_tier.xlsx") as zf:  # CT-04's score test, '>= 450': client_tier!G10
        ref = re.search(rb'<c r="([A-Z]+[0-9]+)"[^>]*><is><t>&gt;= 450</t>', zf.read(tier_part))[1].decode()
    tier = Position(cell=ref)
    made: list[Case] = []

    def case(name: str, *runs: Run, part: str = tier_part, edit=None, make=None, **options) -> None:
        made.append(Case(name, list(runs), **options))
        if folder is None:
            return
        rules = folder / name / "rules"
        shutil.copytree(RULES, rules)
        target = rules / "client_tier.xlsx"
        if make is not None:
            make(target)
        else:
            edit_xlsx(RULES / "client_tier.xlsx", target, {part: edit})
        shutil.copy(SAMPLE, folder / name / "register.xlsx")

    at = f"client_tier.xlsx!client_tier!{tier.cell}"
    text = lambda s: set_cell(tier.cell, f'<c r="{tier.cell}" t="inlineStr"><is><t>{s}</t></is></c>')
    case(
        "rule-formula-without-a-stored-result",
        rules_check(at, "has no stored result"),
        evaluate(at, exits=(2,)),
        edit=set_cell(tier.cell, f'<c r="{tier.cell}" t="str"><f>"&gt;= 450"</f></c>'),
    )
    case(
        "rule-error-value",
        rules_check(at, "#DIV/0!"),
        evaluate(at, exits=(2,)),
        edit=set_cell(tier.cell, f'<c r="{tier.cell}" t="e"><v>#DIV/0!</v></c>'),
    )
    case("rule-110-brackets", rules_check(at, "nested too deeply"), edit=text("(" * 110 + "450" + ")" * 110))
    case("rule-10k-not", rules_check(at, "nested too deeply"), edit=text("not(" * 10_000 + "450" + ")" * 10_000))
    case(
        "rule-100k-term-sum",
        rules_check(f"client_tier.xlsx!client_score!{score.cell}", "nested too deeply"),
        evaluate(f"client_score!{score.cell}", exits=(2,)),
        part=score_part,
        edit=set_cell(score.cell, f'<c r="{score.cell}" t="inlineStr"><is><t>{"+".join(["1"] * 100_000)}</t></is></c>'),
    )
    case("rule-full-width-test", rules_check(exits=(0, 1)), edit=text("＞＝ ４５０"))
    case("rule-40k-text", rules_check(at), edit=text('"' + "K" * 40_000 + '"'))
    case(
        "rule-far-cell",
        rules_check("client_tier.xlsx!client_tier!XFD1048576", "more than kade reads"),
        edit=add_rows('<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'),
    )
    case(
        "rule-truncated",
        rules_check("client_tier.xlsx", "damaged or cut short"),
        evaluate("damaged or cut short", exits=(2,)),
        make=lambda p: p.write_bytes((RULES / "client_tier.xlsx").read_bytes()[:5000]),
    )
    case(
        "rule-garbage",
        rules_check("client_tier.xlsx", "not an Excel workbook"),
        make=lambda p: p.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(40_000))),
    )
    case(
        "rule-damaged-part",
        rules_check("client_tier.xlsx", "cannot read rule workbook"),
        edit=lambda x: x[: len(x) // 2],
    )
    case("rule-doctype", rules_check("client_tier.xlsx", "cannot read rule workbook"), edit=add_doctype(laughs_dtd()))
    case(
        "rule-zip-bomb",
        rules_check("client_tier.xlsx", "unpacks to"),
        edit=lambda x: add_rows(
            '<row r="2000"><c r="A2000" t="inlineStr"><is><t>' + "A" * (40 << 20) + "</t></is></c></row>"
        )(x),
        env={"KADE_MAX_UNPACKED_MB": "32"},
    )
    return made


def laughs_dtd() -> str:
    return (
        '<!DOCTYPE worksheet [<!ENTITY a "aaaaaaaaaa">'
        + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
        + "]>"
    )


def dmn_cases(folder: Path | None) -> list[Case]:
    model = CAMUNDA.read_text(encoding="utf-8")
    made: list[Case] = []

    def case(name: str, run: Run, text: str) -> None:
        made.append(Case(name, [run]))
        if folder is not None:
            (folder / name).mkdir(parents=True, exist_ok=True)
            (folder / name / "model.dmn").write_text(text, encoding="utf-8")

    entry = '<![CDATA["Spareribs"]]>'
    output = '<![CDATA["Aecht Schlenkerla Rauchbier"]]>'
    case(
        "dmn-110-brackets",
        rules_import("model.dmn", "nested too deeply"),
        model.replace(entry, "(" * 110 + '"x"' + ")" * 110, 1),
    )
    case(
        "dmn-10k-not",
        rules_import("model.dmn", "nested too deeply"),
        model.replace(entry, "not(" * 10_000 + '"x"' + ")" * 10_000, 1),
    )
    case(
        "dmn-100k-term-sum",
        rules_import("model.dmn", "nested too deeply"),
        model.replace(output, "+".join(["1"] * 100_000), 1),
    )
    case(
        "dmn-billion-laughs",
        rules_import("model.dmn", "DTD"),
        model.replace("?>", "?>" + laughs_dtd().replace("worksheet", "definitions"), 1).replace(entry, "&i;", 1),
    )
    case(
        "dmn-xxe",
        rules_import("model.dmn", "DTD"),
        model.replace("?>", '?><!DOCTYPE definitions [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1).replace(
            entry, "&x;", 1
        ),
    )
    case(
        "dmn-deep-xml",
        rules_import("wrote", exits=(0,)),  # nesting inside extensionElements: read past, harmless
        model.replace("<extensionElements>", "<extensionElements>" + "<a>" * 100_000 + "</a>" * 100_000, 1),
    )
    case("dmn-truncated", rules_import("model.dmn", "not well-formed XML"), model[: len(model) // 2])
    case("dmn-not-xml", rules_import("model.dmn", "not well-formed XML"), "PK\x03\x04 not a model at all")
    return made


def serve_cases() -> list[Case]:
    payload = payload_from_xlsx(SAMPLE)

    def with_cell(raw: bytes) -> bytes:
        """The sample as a payload, 客户!E2 (the first client's revenue) holding ``raw`` JSON."""
        doc = json.loads(json.dumps(payload))
        doc["sheets"][0]["values"][1][4] = 987654.25
        return json.dumps(doc, ensure_ascii=False).encode("utf-8").replace(b"987654.25", raw, 1)

    def case(name: str, endpoint: str, body: bytes, status: int, says: str) -> Case:
        return Case(name, [Run([], (), (says,))], request=(endpoint, body), statuses=(status,))

    return [
        case("serve-json-nested-100k", "evaluate", b"[" * 100_000 + b"]" * 100_000, 400, "nested too deeply"),
        case(
            "serve-json-objects-nested-5k", "evaluate", b'{"a":' * 5_000 + b"1" + b"}" * 5_000, 400, "nested too deeply"
        ),
        case("serve-list-in-a-cell", "evaluate", with_cell(b"[[1]]"), 400, "list or an object"),
        case("serve-nan", "evaluate", with_cell(b"NaN"), 400, "NaN is not a JSON value"),
        case("serve-infinity", "evaluate", with_cell(b"1e309"), 200, "cannot read 'inf' as a number"),
        case("serve-not-utf8", "evaluate", b"\xff\xfe{}", 400, "not JSON"),
        case("serve-40k-digits", "evaluate", with_cell(b'"' + b"9" * 40_000 + b'"'), 200, "platinum"),
        case("serve-no-sheets", "why", b'{"book": {}, "sheets": []}', 400, "no 'sheets'"),
    ]


def cases(folder: Path | None, *, slow: bool = False) -> list[Case]:
    """Every case; with a ``folder``, its files are written there first (the slow
    cases' only with ``slow``: they take GBs and minutes)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    made = register_cases(folder, slow) + rule_cases(folder) + dmn_cases(folder) + serve_cases()
    return made


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "corpus")
    made = cases(out, slow="--slow" in sys.argv)
    print(f"wrote {len(made)} cases to {out}")


def payload_from_xlsx(path: Path) -> dict:
    """The request xlwings' VBA client sends for the workbook at ``path`` (the
    transcription of Remote.bas over the Excel model, tests/clients)."""
    import json

    from tests.clients import remote_bas
    from tests.clients.excel import Workbook

    return json.loads(remote_bas.ConvertToJson(remote_bas.request_payload(Workbook.from_xlsx(path))))
