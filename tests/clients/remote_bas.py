"""xlwings' VBA client -- ``RunServerPython`` / ``RunRemotePython`` of xlwings 0.37.8,
``addin/Remote.bas`` (BSD-3, Copyright (C) 2014 - present, Zoomer Analytics GmbH) --
transcribed line by line, because VBA does not run on Linux. The ``# NNN`` beside
a line is the Remote.bas line it transcribes; ``Config.bas``, ``WebHelpers.bas``
and ``WebResponse.cls`` lines (VBA-Web, MIT, Tim Hall) are named with their file.
``test_the_transcription_cites_remote_bas`` checks the cited lines say what the
transcription does.

This is the one place the client's behaviour is modelled: the tests and
``kade serve``'s protocol are checked against it, never against a model of our own.
It drives ``tests.clients.excel`` (Excel's object model).

Transcribed: the payload (lines 89-258: include/exclude, book, names, sheets with
pictures, tables and values, VBA's 16-bit ``Integer`` counters), its JSON encoding
(WebHelpers ConvertToJson), the reply (UTF-8 text, WebHelpers ParseJson), and the
action handlers kade relies on. Left out, and why: timeout, proxy and redirect
settings (lines 58-81, 293-320: transport only; the POST is an HTTP POST here), the
``#If Mac`` branches (the Windows branch is transcribed: macOS Excel also converts
the reply's text with ``Utf8ToUtf16``), directory and user config files
(Config.bas: only the ``xlwings.conf`` sheet is read), and handlers kade never sends
(pictures, tables, names, ...), which raise ``NotTranscribed`` so a test notices.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
from collections.abc import Callable

import httpx

from tests.clients.excel import NULL, Array2D, ExcelError, Range, Sheet, VBAError, Workbook

XLWINGS_VERSION = "0.37.8"  # the Remote.bas transcribed (the xlwings installed for the tests)
INTEGER_MAX = 32767  # VBA's Integer

Post = Callable[[str, bytes, dict], tuple[int, bytes, str]]  # url, body, headers -> status, body, reason


class NotTranscribed(Exception):
    """kade sent an action whose handler is not transcribed here."""


class Dictionary(dict):
    """VBA-Web's Dictionary: ``d("key")`` reads an item, as in VBA."""

    def __call__(self, key):
        return self[key]

    def Add(self, key, value) -> None:
        self[key] = value


class Collection(list):
    """A VBA Collection (a parsed JSON array): ``c(1)`` is the first item."""

    def __call__(self, i):
        if not 1 <= i <= len(self):
            raise VBAError(9, "Subscript out of range")
        return self[i - 1]

    @property
    def Count(self) -> int:
        return len(self)


# ------------------------------------------------------------ RunServerPython --


def run_server_python(
    wb: Workbook,
    url: str,
    *,
    auth: str = "",
    include: str = "",
    exclude: str = "",
    headers: dict | None = None,
    post: Post | None = None,
) -> None:
    """Press a button whose macro is ``RunRemotePython url, auth:=..., include:=...``
    (RunRemotePython calls RunServerPython with the same arguments, line 360).
    Message boxes land in ``wb.message_boxes``; a VBA run-time error raises VBAError."""
    # 21-22: Set wb = ActiveWorkbook (the book passed in)
    if include == "":  # 27
        include = GetConfig(wb, "INCLUDE")  # 28
    include_array: list[str] | None = None  # 30: Dim includeArray() As String
    if include != "":  # 31
        include_array = Split(include, ",")  # 32
    if exclude == "":  # 35
        exclude = GetConfig(wb, "EXCLUDE")  # 36
    exclude_array: list[str] | None = None  # 38: Dim excludeArray() As String
    if exclude != "":  # 39
        exclude_array = Split(exclude, ",")  # 40
    if include != "" and exclude != "":  # 43
        wb.MsgBox("Either use 'include' or 'exclude', but not both!", "")  # 44
        return  # 45
    if include != "":  # 48
        for i in range(1, Integer(wb.Worksheets_Count) + 1):  # 49-50: Dim i As Integer
            if not IsInArray(wb.Worksheets(i).Name, include_array):  # 51
                exclude_array = (exclude_array or []) + [""] * (
                    i + 1 - len(exclude_array or [])
                )  # 52: ReDim Preserve (0 To i)
                exclude_array[i] = wb.Worksheets(i).Name  # 53
    # 58-81: TIMEOUT, proxy and redirect settings (transport only; not transcribed)
    if auth == "":  # 85
        auth = GetConfig(wb, "AUTH")  # 86
    payload = request_payload(wb, exclude_array)  # 89-258
    body = ConvertToJson(payload)  # 261: Set myRequest.Body = payload (WebRequest.cls: ConvertToJson)
    request_headers = {"Content-Type": "application/json", "Accept": "application/json"}  # 291: WebFormat.Json
    auth_header = False  # 268-269
    if headers is not None:  # 270
        for key in headers:  # 272
            request_headers[str(key)] = headers[key]  # 273
        if "Authorization" in headers:  # 275
            auth_header = True  # 276
    if not auth_header:  # 280  # noqa: SIM102 (line by line)
        if auth != "":  # 284 (the deprecated apiKey of 281-283 is never given)
            request_headers["Authorization"] = auth  # 285
    status, content_bytes, reason = (post or _http_post)(url, body.encode("ascii"), request_headers)  # 290-323
    content = content_bytes.decode("utf-8")  # WebResponse.cls 161-165: the body as UTF-8 text (Windows)
    if status == 200:  # 328
        data = ParseJson(content)  # WebResponse.cls 327-332: Data = ParseJson(Content)
        for action in data("actions"):  # 330
            Application_Run(action("func"), wb, action)  # 331
    elif content != "":  # 333-334
        wb.MsgBox(content, "Error")  # 335: MsgBox myResponse.Content, vbCritical, "Error"
    else:
        wb.MsgBox(f"{reason} ({status})", "Error")  # 337


def request_payload(wb: Workbook, exclude_array: list[str] | None = None) -> Dictionary:
    """Lines 89-258: the request, as VBA objects (ConvertToJson makes it text)."""
    payload = Dictionary()  # 90
    payload.Add("client", "VBA")  # 91
    payload.Add("version", XLWINGS_VERSION)  # 92
    book_payload = Dictionary()  # 94
    book_payload.Add("name", wb.Name)  # 95: ActiveWorkbook.Name
    book_payload.Add("active_sheet_index", wb.ActiveSheet.Index - 1)  # 96: counts chart sheets
    if isinstance(wb.Selection, Range):  # 97: TypeOf Selection Is Range
        book_payload.Add("selection", wb.Selection.Address(False, False))  # 98
    else:  # 99
        book_payload.Add("selection", NULL)  # 100
    payload.Add("book", book_payload)  # 102
    # 104-152: names; the model has no defined names (wb.Names.Count = 0)
    payload.Add("names", [])  # 151: payload.Add "names", Array()
    sheets_payload: list = [None] * wb.Worksheets_Count  # 154-155: ReDim sheetsPayload(Count - 1)
    for i in range(1, Integer(wb.Worksheets_Count) + 1):  # 156
        sheet_dict = Dictionary()  # 157-158
        sheet_dict.Add("name", wb.Worksheets(i).Name)  # 159
        n_shapes = Integer(wb.Worksheets(i).Shapes_Count)  # 164, 167: Dim nShapes As Integer
        if n_shapes > 0 and not IsInArray(wb.Worksheets(i).Name, exclude_array):  # 168
            raise NotTranscribed("pictures (lines 169-183): the Excel model has no shapes")
        sheet_dict.Add("pictures", [])  # 185: Array()
        n_tables = Integer(wb.Worksheets(i).ListObjects_Count)  # 191, 193: Dim nTables As Integer
        if n_tables > 0 and not IsInArray(wb.Worksheets(i).Name, exclude_array):  # 194
            raise NotTranscribed("tables (lines 195-223): the Excel model has no tables")
        sheet_dict.Add("tables", [])  # 225: Array()
        if IsInArray(wb.Worksheets(i).Name, exclude_array):  # 230
            values = [[]]  # 231: Array(Array())
        elif IsEmpty(wb.Worksheets(i).UsedRange.Value):  # 232
            values = [[]]  # 233
        else:  # 234
            used = wb.Worksheets(i).UsedRange  # 238: With wb.Worksheets(i).UsedRange
            start_row = Integer(used.Row)  # 235, 239: Dim startRow As Integer
            start_col = Integer(used.Column)  # 235, 240
            n_rows = Integer(used.Rows_Count)  # 236, 241: Dim nRows As Integer -- Overflow past 32,767 rows
            n_cols = Integer(used.Columns_Count)  # 236, 242
            sheet = wb.Worksheets(i)  # 244: With wb.Worksheets(i)
            my_used_range = sheet.Range(  # 245
                sheet.Cells(1, 1),  # 246
                sheet.Cells(Integer(start_row + n_rows - 1), Integer(start_col + n_cols - 1)),  # 247: Integer sums
            )
            values = my_used_range.Value  # 249
            if my_used_range.Count == 1:  # 250
                values = [[values]]  # 251: Array(Array(values))
        sheet_dict.Add("values", values)  # 255
        sheets_payload[i - 1] = sheet_dict  # 256
    payload.Add("sheets", sheets_payload)  # 258
    return payload


def run_actions(wb: Workbook, reply: str) -> None:
    """Lines 328-332 for a reply body that is already known: parse it, run each action."""
    for action in ParseJson(reply)("actions"):  # 330
        Application_Run(action("func"), wb, action)  # 331


def _http_post(url: str, body: bytes, headers: dict) -> tuple[int, bytes, str]:
    """WinHttp's POST (VBA-Web WebClient): no Accept-Encoding, so never a compressed reply."""
    with httpx.Client(timeout=30) as client:  # 298: TimeoutMs = 30000
        del client.headers["Accept-Encoding"]
        response = client.post(url, content=body, headers=headers)
    return response.status_code, response.content, response.reason_phrase


# ------------------------------------------------------------------ helpers ----


def GetRange(wb: Workbook, action: Dictionary) -> Range:  # (364-380)
    if action("row_count") == 1 and action("column_count") == 1:  # 365
        return wb.Worksheets(action("sheet_position") + 1).Cells(  # 366-367
            action("start_row") + 1,  # 367
            action("start_column") + 1,  # 368
        )
    sheet = wb.Worksheets(action("sheet_position") + 1)  # 371: With wb.Worksheets(sheet_position + 1)
    return sheet.Range(  # 372
        sheet.Cells(action("start_row") + 1, action("start_column") + 1),  # 373
        sheet.Cells(  # 374
            action("start_row") + action("row_count"),  # 375
            action("start_column") + action("column_count"),  # 376
        ),
    )


def HexToRgb(hex_color: str) -> str:  # (410-417)
    hex_color = hex_color.replace("#", "")  # 413
    red = Val("&H" + hex_color[0:2])  # 414
    green = Val("&H" + hex_color[2:4])  # 415
    blue = Val("&H" + hex_color[4:6])  # 416
    return f"#{int(red):02X}{int(green):02X}{int(blue):02X}"  # 417: RGB(red, green, blue)


def IsInArray(string_to_be_found: str, arr: list[str] | None) -> bool:  # (419-436)
    if arr is None:  # 421: IsEmpty(arr) is False for an array; LBound of an unallocated one
        return False  # errors -> 435: ErrHandler: IsInArray = False
    for item in arr:  # 428: For i = LBound(arr) To UBound(arr)  # noqa: SIM110 (line by line)
        if item.strip(" ") == string_to_be_found:  # 429: Trim(arr(i)) = stringToBeFound
            return True  # 430
    return False  # 434


def GetConfig(wb: Workbook, config_key: str, default: str = "") -> str:
    """Config.bas 76-93: the ``xlwings.conf`` sheet of the active workbook (directory
    and user config files are not modelled, so then the default)."""
    sheet = wb.Sheets("xlwings.conf")  # Config.bas 87: SheetExists(ActiveWorkbook, "xlwings.conf")
    if sheet is not None:
        config = GetConfigFromSheet(sheet)  # Config.bas 88
        if config_key in config:  # Config.bas 88: .Exists(configKey)
            return ExpandEnvironmentStrings(CStr(config[config_key]))  # Config.bas 89-90
    return default


def GetConfigFromSheet(sheet: Sheet) -> dict:  # (Config.bas 50-73)
    if sheet.get(2, 1) in (None, ""):  # Config.bas 63: sht.Range("A2") = ""
        last = 1  # Config.bas 64
    else:
        last = 2  # Config.bas 66: Range("A1").End(xlDown)
        while sheet.get(last + 1, 1) not in (None, ""):
            last += 1
    d: dict = {}
    for r in range(1, last + 1):  # Config.bas 69
        key = CStr(sheet.get(r, 1)).upper()  # Config.bas 70: UCase(cell.Value)
        if key in d:
            raise VBAError(457, "This key is already associated with an element of this collection")
        d[key] = sheet.get(r, 2)  # Config.bas 70: cell.Offset(0, 1).Value
    return d


def ExpandEnvironmentStrings(s: str) -> str:  # (Utils.bas 183-206, Windows branch)
    return re.sub(r"%([^%]+)%", lambda m: os.environ.get(m[1], m[0]), s)  # WScript.Shell


# ----------------------------------------------------------------- handlers ----


def setValues(wb: Workbook, action: Dictionary) -> None:  # (542-571)
    values = action("values")  # 547
    arr = [[None] * (values(1).Count + 1) for _ in range(values.Count + 1)]  # 548: ReDim arr(Count, Count)
    for i in range(1, values.Count + 1):  # 550
        value_row = values(i)  # 551
        for j in range(1, value_row.Count + 1):  # 552
            try:  # 553: On Error Resume Next
                arr_set(arr, i - 1, j - 1, ParseIso(StringArgument(value_row(j))))  # 555
            except VBAError:  # 556: If Err.Number <> 0
                arr_set(arr, i - 1, j - 1, value_row(j))  # 564 (the #Else branch: Windows)
    GetRange(wb, action).Value = arr  # 570


def arr_set(arr: list[list], i: int, j: int, value) -> None:
    """arr(i, j) = value; outside the ReDim bounds VBA stops: Subscript out of range."""
    if not (0 <= i < len(arr) and 0 <= j < len(arr[i])):
        raise VBAError(9, "Subscript out of range")
    arr[i][j] = value


def rangeClearContents(wb: Workbook, action: Dictionary) -> None:  # (573-575)
    GetRange(wb, action).ClearContents()  # 574


def rangeClear(wb: Workbook, action: Dictionary) -> None:  # (581-583)
    GetRange(wb, action).Clear()  # 582


def addSheet(wb: Workbook, action: Dictionary) -> None:  # (585-592)
    mysheet = wb.Sheets_Add()  # 587: Set mysheet = wb.Sheets.Add -- before the active sheet
    mysheet.Move_After(wb.Worksheets(action("args")(1) + 1))  # 588: Worksheets(args(1) + 1), after the insert
    if action("args")(2) is not NULL:  # 589: If Not IsNull(action("args")(2))
        mysheet.Name = action("args")(2)  # 590


def setSheetName(wb: Workbook, action: Dictionary) -> None:  # (594-596)
    sheet = wb.sheets[_vba_int(action("sheet_position") + 1) - 1]  # 595: wb.Sheets(sheet_position + 1)
    sheet.Name = action("args")(1)  # 595


def setAutofit(wb: Workbook, action: Dictionary) -> None:  # (598-604)
    if action("args")(1) == "columns":  # 599
        GetRange(wb, action).Columns_AutoFit()  # 600
    else:  # 601
        raise NotTranscribed("setAutofit rows (line 602): the Excel model keeps no row heights")


def setRangeColor(wb: Workbook, action: Dictionary) -> None:  # (606-608)
    GetRange(wb, action).set_colour(HexToRgb(action("args")(1)))  # 607: .Interior.Color = HexToRgb(...)


def activateSheet(wb: Workbook, action: Dictionary) -> None:  # (610-612)
    wb.active = wb.sheets[_vba_int(action("args")(1) + 1) - 1]  # 611: wb.Sheets(args(1) + 1).Activate


def alert(wb: Workbook, action: Dictionary) -> None:  # (688-734)
    my_prompt = CStr(action("args")(1))  # 693
    my_title = CStr(action("args")(2))  # 694
    my_buttons = CStr(action("args")(3))  # 695
    my_callback = CStr(action("args")(5))  # 697
    if my_buttons not in ("ok", "ok_cancel", "yes_no", "yes_no_cancel"):  # 699-708
        raise NotTranscribed(f"alert buttons {my_buttons!r}")
    wb.MsgBox(my_prompt, my_title)  # 716: rv = MsgBox(Prompt:=myPrompt, Title:=myTitle, Buttons:=myStyle)
    if my_callback != "":  # 730
        raise NotTranscribed("alert callbacks (line 731: Application.Run myCallback)")


HANDLERS = {
    "setValues": setValues,
    "rangeClearContents": rangeClearContents,
    "rangeClear": rangeClear,
    "addSheet": addSheet,
    "setSheetName": setSheetName,
    "setAutofit": setAutofit,
    "setRangeColor": setRangeColor,
    "activateSheet": activateSheet,
    "alert": alert,
}


def Application_Run(func: str, wb: Workbook, action: Dictionary) -> None:  # (331)
    if func not in HANDLERS:
        raise NotTranscribed(f"Remote.bas has no transcription here of the action {func!r}")
    HANDLERS[func](wb, action)


# ---------------------------------------------------------------- VBA basics ----


def Integer(value) -> int:
    """Assigning to a VBA ``Integer`` (16 bits): past 32,767 the macro stops."""
    if not -32768 <= value <= INTEGER_MAX:
        raise VBAError(6, "Overflow")
    return int(value)


def Split(text: str, delimiter: str) -> list[str]:
    return text.split(delimiter)


def IsEmpty(value) -> bool:
    return value is None  # an array (a block's values) is never Empty


def CStr(value) -> str:
    """VBA's CStr (en-US): doubles with up to 15 significant digits."""
    if value is None:
        return ""
    if value is NULL:
        raise VBAError(94, "Invalid use of Null")
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (int, float)):
        return _double_text(float(value))
    return str(value)


def StringArgument(value) -> str:
    """A Variant passed to a ``String`` parameter (ParseIso's): coerced by CStr."""
    return CStr(value)


def _double_text(x: float) -> str:
    if x == 0:
        return "0"
    text = f"{x:.15G}"
    if "E" in text:
        mantissa, exponent = text.split("E")
        mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
        sign, digits = exponent[0], exponent[1:].lstrip("0")
        return f"{mantissa}E{sign}{digits.zfill(2)}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _vba_int(value) -> int:
    return round(value)


_CINT = re.compile(r"\s*([+-]?)(\d{1,3}(?:,\d{3})+|\d*)(\.\d*)?(?:[eE]([+-]?\d+))?\s*")


def CInt(text: str) -> int:
    """VBA's CInt of text (en-US): a number, thousands separators allowed, rounded
    half to even; Type mismatch for anything else; Overflow past 16 bits."""
    match = _CINT.fullmatch(text)
    if text.strip().upper().startswith("&H"):
        try:
            return Integer(int(text.strip()[2:], 16))
        except ValueError:
            raise VBAError(13, "Type mismatch") from None
    if not match or not (match[2] or (match[3] and len(match[3]) > 1)):
        raise VBAError(13, "Type mismatch")
    number = float(f"{match[1]}{(match[2] or '0').replace(',', '')}{match[3] or ''}e{match[4] or 0}")
    if not math.isfinite(number):
        raise VBAError(6, "Overflow")
    return Integer(round(number))


def Val(text: str) -> float:
    """VBA's Val: the number at the start of the text (spaces ignored), else 0."""
    text = text.replace(" ", "").replace("\t", "")
    if text.upper().startswith("&H"):
        digits = re.match(r"[0-9A-Fa-f]*", text[2:])
        return float(int(digits[0], 16)) if digits and digits[0] else 0.0
    match = re.match(r"[+-]?(\d+\.?\d*|\.\d+)([eEdD][+-]?\d+)?", text)
    return float(match[0].replace("d", "e").replace("D", "e")) if match else 0.0


def DateSerial(year: int, month: int, day: int) -> dt.datetime:
    """VBA's DateSerial: years 0-29 are 2000-2029 and 30-99 are 1930-1999; months and
    days past their range roll over."""
    if 0 <= year <= 29:
        year += 2000
    elif 30 <= year <= 99:
        year += 1900
    months = year * 12 + (month - 1)
    try:
        first = dt.datetime(months // 12, months % 12 + 1, 1)
        result = first + dt.timedelta(days=day - 1)
    except (ValueError, OverflowError):
        raise VBAError(5, "Invalid procedure call or argument") from None
    if not 100 <= result.year <= 9999:
        raise VBAError(5, "Invalid procedure call or argument")
    return result


def TimeSerial(hour: int, minute: int, second: int) -> dt.timedelta:
    return dt.timedelta(seconds=hour * 3600 + minute * 60 + second)


# WebHelpers.bas (VBA-Web): here '# NNN' is a WebHelpers.bas line -------------------


def ParseIso(utc_iso_string: str) -> dt.datetime:  # (WebHelpers.bas 2839-2908)
    try:  # 2840: On Error GoTo utc_ErrorHandling
        utc_parts = Split(utc_iso_string, "T")  # 2851
        utc_date_parts = Split(utc_parts[0], "-")  # 2852
        result = DateSerial(  # 2853
            CInt(_item(utc_date_parts, 0)), CInt(_item(utc_date_parts, 1)), CInt(_item(utc_date_parts, 2))
        )
        if len(utc_parts) - 1 > 0:  # 2855: UBound(utc_Parts) > 0
            if "Z" in utc_parts[1]:  # 2856
                utc_time_parts = Split(utc_parts[1].replace("Z", ""), ":")  # 2857
            else:  # 2858
                utc_offset_index = utc_parts[1].find("+") + 1  # 2859: InStr(1, utc_Parts(1), "+")
                if utc_offset_index == 0:  # 2860
                    utc_offset_index = utc_parts[1].find("-") + 1  # 2862
                if utc_offset_index > 0:  # 2865
                    utc_time_parts = Split(utc_parts[1][: utc_offset_index - 1], ":")  # 2867
                    utc_offset_parts = Split(utc_parts[1][utc_offset_index:], ":")  # 2868
                    if len(utc_offset_parts) == 1:  # 2871: Case 0
                        TimeSerial(CInt(utc_offset_parts[0]), 0, 0)  # 2872 (the offset is not applied: 2896-2901)
                    elif len(utc_offset_parts) == 2:  # 2873: Case 1
                        TimeSerial(CInt(utc_offset_parts[0]), CInt(utc_offset_parts[1]), 0)  # 2874
                    elif len(utc_offset_parts) == 3:  # 2875: Case 2
                        TimeSerial(CInt(utc_offset_parts[0]), CInt(utc_offset_parts[1]), int(Val(utc_offset_parts[2])))
                else:  # 2881
                    utc_time_parts = Split(utc_parts[1], ":")  # 2882
            if len(utc_time_parts) == 1:  # 2887: Case 0
                result += TimeSerial(CInt(utc_time_parts[0]), 0, 0)  # 2888
            elif len(utc_time_parts) == 2:  # 2889: Case 1
                result += TimeSerial(CInt(utc_time_parts[0]), CInt(utc_time_parts[1]), 0)  # 2890
            elif len(utc_time_parts) == 3:  # 2891: Case 2
                result += TimeSerial(  # 2893
                    CInt(utc_time_parts[0]), CInt(utc_time_parts[1]), math.floor(Val(utc_time_parts[2]))
                )
        if not 100 <= result.year <= 9999:
            raise VBAError(6, "Overflow")
        return result  # 2904
    except (VBAError, OverflowError) as exc:  # 2906-2907: Err.Raise 10013
        raise VBAError(10013, f"ISO 8601 parsing error for {utc_iso_string}") from exc


def _item(parts: list[str], i: int) -> str:
    if i >= len(parts):
        raise VBAError(9, "Subscript out of range")
    return parts[i]


def ConvertToIso(value: dt.datetime) -> str:  # (WebHelpers.bas 2919-2930)
    return value.strftime("%Y-%m-%dT%H:%M:%S.000Z")  # 2924: Format$(d, "yyyy-mm-ddTHH:mm:ss.000Z"), no UTC shift


def ConvertToJson(value) -> str:  # (WebHelpers.bas 2069-2341, without pretty-printing)
    if value is NULL:  # 2099: vbNull
        return "null"
    if isinstance(value, ExcelError):  # 2119-2135: vbError, seven codes; any other -> ""
        return f'"{value}"' if value.code in (2007, 2042, 2029, 2000, 2036, 2023, 2015) else ""
    if isinstance(value, dt.datetime):  # 2101-2105: vbDate
        return '"' + ConvertToIso(value) + '"'
    if isinstance(value, bool):  # 2113-2118
        return "true" if value else "false"
    if isinstance(value, str):  # 2106-2112: vbString, a "large number" unquoted
        return value if _string_is_large_number(value) else '"' + _json_encode(value) + '"'
    if isinstance(value, (int, float)):  # 2332-2334: Replace(CStr(number), ",", ".")
        return CStr(value).replace(",", ".")
    if isinstance(value, Dictionary):  # 2251-2288: Empty items are left out
        items = [(k, ConvertToJson(v)) for k, v in value.items() if v is not None]
        return "{" + ",".join(f'"{k}":{text}' for k, text in items) + "}"
    if isinstance(value, Array2D):  # 2166-2202: a 2-D array, Empty -> null
        return "[" + ",".join("[" + ",".join(_item_json(v) for v in row) + "]" for row in value) + "]"
    if isinstance(value, list):  # 2203-2220: a 1-D array of items
        return "[" + ",".join(_item_json(v) for v in value) + "]"
    if value is None:  # 2335-2339: vbEmpty -> "" (left out of objects, null in arrays)
        return ""
    raise TypeError(f"no VBA type for {value!r}")


def _item_json(value) -> str:
    text = ConvertToJson(value)
    return "null" if text == "" and value is None else text  # 2183-2188: json_IsUndefined


def _string_is_large_number(text: str) -> bool:  # WebHelpers.bas 2639-2661
    return 16 <= len(text) <= 100 and all(ch in ".0123456789Ee" for ch in text)


_ESCAPES = {34: '\\"', 92: "\\\\", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t"}


def _json_encode(text: str) -> str:  # WebHelpers.bas 2565-2630: per UTF-16 unit (AscW)
    out = []
    units = text.encode("utf-16-le", "surrogatepass")
    for k in range(0, len(units), 2):
        code = units[k] | units[k + 1] << 8
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
        elif code <= 31 or code >= 127:  # 2623-2625: "\u" & Right$("0000" & Hex$(code), 4)
            out.append(f"\\u{code:04X}")
        else:
            out.append(chr(code))
    return "".join(out)


def ParseJson(json_string: str):  # (WebHelpers.bas 2042-2062)
    """VBA-Web's parser, for the JSON kade sends: objects become Dictionaries, arrays
    Collections, null Null, numbers Doubles -- or text when 16+ characters long (17+
    with a point, 2491-2519) -- and ``\\n`` in text vbCrLf (2446)."""
    json_string = json_string.replace("\r", "").replace("\n", "").replace("\t", "")  # 2047
    if json_string.lstrip(" ")[:1] not in ("{", "["):  # 2050-2057
        raise VBAError(10001, "Error parsing JSON: Expecting '{' or '['")
    return _vba_value(json.loads(json_string, parse_float=_parse_number, parse_int=_parse_number))


def _parse_number(token: str):  # WebHelpers.bas 2491-2519
    large = len(token) >= 17 if "." in token else len(token) >= 16  # 2509
    return token if large else Val(token)  # 2510-2515


def _vba_value(value):
    if value is None:
        return NULL
    if isinstance(value, dict):
        return Dictionary((k, _vba_value(v)) for k, v in value.items())
    if isinstance(value, list):
        return Collection(_vba_value(v) for v in value)
    if isinstance(value, str):
        return value.replace("\n", "\r\n")  # 2446: "\n" -> vbCrLf
    return value
