"""Data workbooks: typed reading, coercion, row errors, joins, missing columns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import engine
from engine.errors import DataError, MissingColumnError
from tests.workbook_factory import small_data, small_model, write_data


@pytest.fixture
def rules(tmp_path):
    return engine.load_rules(small_model(tmp_path / "rules"))


def test_decisions_and_row_errors(rules, tmp_path):
    ev = engine.evaluate_workbook(rules, small_data(tmp_path / "d.xlsx"))
    clients = engine.result_frame(ev, "clients")
    # "1,200" stored as text is read as 1200
    assert list(clients["tier"]) == ["gold", "silver", "silver"]
    assert (
        clients["tier.reason"][0] == "revenue 2,560 ≥ 1,000 and industry 金融 → gold (rule T1: large finance clients)"
    )
    orders = engine.result_frame(ev, "orders").set_index("订单编号")
    assert orders.loc["O1", "approver"] == "director" and orders.loc["O1", "approval.rule"] == "A3"
    assert orders.loc["O2", "approver"] == "clerk"
    assert orders.loc["O5", "approver"] == "manager"
    # bad number: that row is an error naming column and value; others still decided
    assert orders.loc["O3", "approver"] is None
    assert orders.loc["O3", "kade.errors"] == "金额: cannot read '1,2O0' as a number"
    assert orders.loc["O3", "approval.reason"].startswith("error: 金额: cannot read '1,2O0'")
    # missing client is a per-row error
    assert orders.loc["O4", "kade.errors"] == "客户编号 C9 not found in sheet 客户"
    assert orders.loc["O4", "approver"] is None


def test_english_headers_work_like_chinese(rules, tmp_path):
    path = write_data(
        tmp_path / "en.xlsx",
        {
            "客户": [["client_id", "revenue", "industry"], ["C1", 5000, "金融"]],
        },
    )
    ev = engine.evaluate_workbook(rules, path)
    assert engine.result_frame(ev, "clients")["tier"][0] == "gold"
    assert "approval" in ev.skipped  # no orders sheet: skipped, not an error


def test_missing_column_names_column_and_tables(rules, tmp_path):
    path = write_data(tmp_path / "m.xlsx", {"客户": [["客户编号", "行业"], ["C1", "金融"]]})
    with pytest.raises(MissingColumnError) as info:
        engine.evaluate_workbook(rules, path)
    assert "sheet '客户' has no column 年收入 / revenue (needed by tier)" in str(info.value)


def test_unreadable_workbook(rules, tmp_path):
    bad = tmp_path / "broken.xlsx"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="a text file named .xlsx, not an Excel workbook"):
        engine.evaluate_workbook(rules, bad)
    with pytest.raises(DataError, match="workbook not found"):
        engine.evaluate_workbook(rules, tmp_path / "nope.xlsx")


def test_allowed_values_are_enforced_per_row(rules, tmp_path):
    path = write_data(
        tmp_path / "a.xlsx", {"客户": [["客户编号", "年收入", "行业"], ["C1", 10, "农业"], ["C2", 10, "政府"]]}
    )
    frame = engine.result_frame(engine.evaluate_workbook(rules, path), "clients")
    assert frame["kade.errors"][0].startswith("行业: 农业 is not an allowed value (allowed: 金融, 政府, 其他)")
    assert frame["tier"][1] == "silver"


def test_coercion_of_each_type():
    from engine.evaluation.bind import coerce
    from engine.model import Variable

    num = Variable("x", None, ("X",), "number")
    col, msgs = coerce(np.array([1.0, "1,200", " 350 ", None, "N/A", "1,2O0", True], dtype=object), num)
    assert col.values[:3].tolist() == [1.0, 1200.0, 350.0]
    assert np.isnan(col.values[3])
    assert msgs[3] is None
    assert msgs[4] == "X: cannot read 'N/A' as a number"
    assert msgs[5] == "X: cannot read '1,2O0' as a number"
    assert msgs[6] is not None  # a boolean is not a number

    flag = Variable("f", None, ("F",), "boolean")
    col, msgs = coerce(np.array(["是", "否", True, "yes", "N", None, "maybe"], dtype=object), flag)
    assert col.values[:5].tolist() == [1.0, 0.0, 1.0, 1.0, 0.0]
    assert msgs[6] == "F: cannot read 'maybe' as true/false (是/否)"

    day = Variable("d", None, ("D",), "date")
    col, msgs = coerce(np.array([dt.date(2026, 1, 31), "2026-01-31", "2026/1/31", 46053.0, "soon"], dtype=object), day)
    expected = (dt.date(2026, 1, 31) - dt.date(1970, 1, 1)).days
    assert col.values[:4].tolist() == [expected] * 4
    assert msgs[4] == "D: cannot read 'soon' as a date"

    text = Variable("s", None, ("S",), "string")
    col, msgs = coerce(np.array([1001.0, " 金融 ", "", None], dtype=object), text)
    assert col.values.tolist() == ["1001", "金融", None, None] and msgs is None


def test_number_cells_read_alike_on_both_paths():
    """A column of only numbers and blanks is converted in one pass; a column with
    anything else goes cell by cell. Both read every number alike (numpy's too, as
    the cells of a frame built in code may be) and refuse the same cells."""
    from engine.evaluation.bind import coerce
    from engine.model import Variable

    num = Variable("x", None, ("X",), "number")
    cells = [1.5, 2, np.float64(2.5), np.int64(7), None, float("nan"), float("inf"), 2**70]
    plain, plain_msgs = coerce(np.array(cells, dtype=object), num)
    mixed, mixed_msgs = coerce(np.array([*cells, "1,200", True, pd.NA], dtype=object), num)
    expected = [1.5, 2.0, 2.5, 7.0, None, None, None, float(2**70)]
    for column in (plain, mixed):
        assert [None if np.isnan(v) else v for v in column.values[:8]] == expected
    assert plain_msgs.tolist() == mixed_msgs[:8].tolist() == [None] * 6 + ["X: cannot read 'inf' as a number", None]
    assert mixed.values[8] == 1200.0 and np.isnan(mixed.values[10])
    assert mixed_msgs[9] == "X: cannot read 'True' as a number" and mixed_msgs[10] is None
    # a variable without a type (Any, from a DMN model) whose cells are numpy numbers is a number
    untyped, msgs = coerce(
        np.array([np.float64(1.5), np.int64(2), None], dtype=object), Variable("y", None, ("Y",), None)
    )
    assert untyped.type == "number" and untyped.values[:2].tolist() == [1.5, 2.0] and msgs is None


def test_allowed_values_see_blank_and_bad_cells_on_the_one_pass_path():
    from engine.evaluation.bind import coerce
    from engine.feel import parse_unary_tests
    from engine.model import Variable

    share = Variable("s", None, ("S",), "number", allowed=parse_unary_tests("[0..1]"))
    column, msgs = coerce(np.array([0.5, None, 3.0, float("inf"), float("nan")], dtype=object), share)
    assert msgs[0] is None and msgs[1] is None and msgs[4] is None  # blanks are not outside the range
    assert msgs[2].startswith("S: 3 is outside the allowed values [0..1]")
    assert msgs[3] == "S: cannot read 'inf' as a number"  # one message, not also "outside"
    assert column.values[0] == 0.5 and np.isnan(column.values[1:]).all()


def test_text_cells_are_trimmed_per_distinct_value():
    from engine.evaluation.bind import coerce
    from engine.model import Variable

    text = Variable("s", None, ("S",), "string")
    cells = np.array(["金融", " 金融", "金融 ", "   ", "", None, float("nan"), "政府", "\u3000政府"], dtype=object)
    column, msgs = coerce(cells, text)
    assert column.values.tolist() == ["金融", "金融", "金融", None, "", None, None, "政府", "政府"] and msgs is None
    codes, uniques = column.factorized()
    assert uniques.tolist() == ["金融", "", "政府"] and codes.tolist() == [0, 0, 0, -1, 1, -1, -1, 2, 2]
    # a pandas string column gives the same values and codes
    typed, _ = coerce(pd.Series(cells, dtype="string"), text)
    assert typed.values.tolist() == column.values.tolist()
    assert typed.factorized()[0].tolist() == codes.tolist()


def test_evaluate_frame_library_api(rules):
    import pandas as pd

    clients = pd.DataFrame({"客户编号": ["C1", "C2"], "年收入": [2000, None], "行业": ["金融", "金融"]})
    out = engine.evaluate_frame(rules, clients, entity="clients")
    assert out["tier"].tolist() == ["gold", "silver"]
    assert out["tier.rule"].tolist() == ["T1", "T2"]
    # reasons are pandas' text dtype (Arrow-backed, no Python string per row), their text as always
    assert out["tier.reason"].dtype == "str"
    assert isinstance(out["tier.reason"][0], str) and "rule T1" in out["tier.reason"][0]
    orders = pd.DataFrame({"订单编号": ["O1"], "客户编号": ["C1"], "金额": [120]})
    out = engine.evaluate_frame(rules, orders, entity="orders", parents={"clients": clients})
    assert out["approver"].tolist() == ["director"]


def test_typed_frames_decide_as_cells_read_from_the_workbook():
    """evaluate_frame binds typed columns (nullable Int64/Float64, pandas strings with
    是/否, datetime64) without converting them to objects; the decisions, rule ids,
    reasons and errors are those of the same register read from its file."""
    import pandas as pd

    root = Path(__file__).resolve().parent.parent

    rules = engine.load_rules(root / "rules")
    workbook = root / "workbooks" / "key_accounts.xlsx"
    sheets = {s.name: s.frame for s in engine.read_workbook(workbook)}
    read = engine.evaluate_workbook(rules, workbook)

    def typed(frame):
        out = frame.convert_dtypes()
        for name in out.columns:
            if pd.api.types.infer_dtype(frame[name], skipna=True) == "date":
                out[name] = pd.to_datetime(frame[name])
        return out

    clients = typed(sheets["客户"])
    assert {str(t) for t in clients.dtypes} >= {"Int64", "Float64", "string"}
    for entity, sheet in (("clients", "客户"), ("contracts", "合同"), ("sla_orders", "SLA订单")):
        frame = typed(sheets[sheet])
        parents = {"clients": clients} if entity != "clients" else None
        got = engine.evaluate_frame(rules, frame, entity, parents=parents)
        want = engine.result_frame(read, entity)
        decided = want.columns[want.attrs["data_columns"] :]
        assert len(decided) >= 3
        for name in decided:
            assert got[name].tolist() == want[name].tolist(), (sheet, name)
    # text as a pandas category: decided per distinct value, the same decisions
    categories = clients.assign(行业=clients["行业"].astype("category"), 区域=clients["区域"].astype("category"))
    got = engine.evaluate_frame(rules, categories, "clients")
    want = engine.result_frame(read, "clients")
    for name in want.columns[want.attrs["data_columns"] :]:
        assert got[name].tolist() == want[name].tolist(), name


def test_duplicate_keys_are_flagged(rules, tmp_path):
    path = write_data(
        tmp_path / "dup.xlsx", {"客户": [["客户编号", "年收入", "行业"], ["C1", 10, "金融"], ["C1", 5000, "金融"]]}
    )
    frame = engine.result_frame(engine.evaluate_workbook(rules, path), "clients")
    assert frame["kade.errors"][0] is None
    assert frame["kade.errors"][1] == "客户编号 C1 appears more than once; the first row is used for links"


def test_a_blank_row_links_to_no_client(rules, tmp_path):
    # a blank order row must not "find" a blank client row: an empty key is nobody's
    path = write_data(
        tmp_path / "blank.xlsx",
        {
            "客户": [["客户编号", "年收入", "行业"], ["C1", 2560, "金融"], [], ["C2", 5, "金融"]],
            "订单": [["订单编号", "客户编号", "金额"], ["O1", "C1", 500], [], ["O2", "C2", 50]],
        },
    )
    rows = engine.bind(rules, engine.read_workbook(path), str(path))
    assert rows["orders"].parent_index.tolist() == [0, -1, 2]
    assert rows["orders"].parent_missing[1] == "客户编号 (empty) not found in sheet 客户"
    assert rows["orders"].parent_missing[0] is None and rows["orders"].parent_missing[2] is None


def test_rows_turned_into_columns_a_block_at_a_time_are_the_same_cells(monkeypatch):
    """A sheet is turned into columns a block of rows at a time, equal values of one type
    sharing one object: the same cells as one block, types kept (1.0, True and '1' stay three
    values), empty cells None, trailing empty rows dropped, NaN kept as NaN."""
    import math

    from engine.io import registers

    rows = [["n", "flag", "text", "mixed"]]
    for i in range(50):
        rows.append([float(i % 3), i % 2 == 0, ["金融", "政府", ""][i % 3], [1.0, True, "1", 1][i % 4]])
    rows += [[math.nan, None, " ", ""], ["", "", "", ""], ["", "", "", ""]]
    whole = registers.frame_from_rows(rows)
    monkeypatch.setattr(registers, "ROWS_PER_BLOCK", 4)
    blocks = registers.frame_from_rows(iter(rows))
    assert len(whole) == len(blocks) == 51  # the two empty rows at the end dropped
    for name in whole.columns:
        a, b = whole[name].tolist(), blocks[name].tolist()
        assert [type(v) for v in a] == [type(v) for v in b], name
        assert all((x is None and y is None) or x == y or (x != x and y != y) for x, y in zip(a, b)), name
    assert blocks["mixed"].tolist()[:4] == [1.0, True, "1", 1] and [type(v) for v in blocks["mixed"][:4]] == [
        float,
        bool,
        str,
        int,
    ]
    assert blocks["text"].tolist()[:3] == ["金融", "政府", None]
    assert math.isnan(blocks["n"].iloc[50]) and blocks["text"].iloc[50] == " "
    # repeated values are one object each: a million rows cost a pointer per cell
    assert len({id(v) for v in whole["n"][:48]}) == 3


def test_rows_expected_or_not_give_the_same_frame_in_one_block_without_a_copy(monkeypatch):
    """The number of rows a reader expects only sizes the array the cells go into: fewer
    rows than expected, more (the array grows, several times over), or none expected give
    the same frame. Rows shorter than the header end in None; cells past it are left out.
    pandas takes the array as its one block instead of stacking the columns into a copy."""
    from engine.io import registers

    monkeypatch.setattr(registers, "ROWS_PER_BLOCK", 3)
    rows = [["客户名称", "年收入", "客户名称"]]
    rows += [[f"客户{i}", float(i % 4), "x", "past the header"] if i % 5 else [f"客户{i}"] for i in range(40)]
    rows += [[None, "", None]]  # a trailing empty row: dropped
    frames = [registers.frame_from_rows(iter(rows), expected=e) for e in (0, 1, 7, 40, 1000)]
    assert list(frames[0].columns) == ["客户名称", "年收入", "客户名称 (3)"]
    assert len(frames[0]) == 40
    assert frames[0].iloc[5].tolist() == ["客户5", None, None]
    assert frames[0].iloc[6].tolist() == ["客户6", 2.0, "x"]
    for frame in frames[1:]:
        assert frame.equals(frames[0])
    for frame in frames:
        assert frame._mgr.nblocks == 1 and all(dtype == object for dtype in frame.dtypes)
        assert not frame._mgr.blocks[0].values.flags["OWNDATA"]  # a view of the array the cells went into
    assert registers.frame_from_rows([["a", "b"]], expected=5).shape == (0, 2)


def test_taking_rows_of_a_column_gives_null_for_a_missing_parent():
    """``Column.take`` (child rows from their parent's columns): the same values as
    gathering from the column with a null appended, for numbers, text and empty columns."""
    from engine.evaluation.columns import NULL, Column

    index = np.array([2, -1, 0, 2, -1])
    numbers = Column("number", np.array([1.0, np.nan, 3.0]))
    texts = Column("string", np.array(["金融", None, "政府"], dtype=object))
    assert np.array_equal(numbers.take(index).values, [3.0, np.nan, 1.0, 3.0, np.nan], equal_nan=True)
    assert texts.take(index).values.tolist() == ["政府", None, "金融", "政府", None]
    assert texts.take(np.array([1, 0])).values.tolist() == [None, "金融"]
    taken = texts.take(np.array([0, 0]))
    taken.values[0] = "changed"  # a new array: the parent's column is not touched
    assert texts.values[0] == "金融"
    empty = Column("string", np.array([], dtype=object))
    assert empty.take(np.array([-1, -1])).values.tolist() == [NULL, NULL]
    assert np.isnan(Column("number", np.array([])).take(np.array([-1])).values).all()


def test_typed_values_as_python_objects_share_repeats_and_keep_minus_zero():
    import math

    from engine.evaluation.columns import to_python

    values = np.tile(np.array([1.0, 2.5, np.nan]), 3000)
    objects = to_python("number", values)
    assert objects.tolist() == [1.0, 2.5, None] * 3000
    assert len({id(v) for v in objects if v is not None}) == 2
    assert to_python("boolean", np.tile(np.array([1.0, 0.0]), 3000)).tolist() == [True, False] * 3000
    signed = to_python("number", np.tile(np.array([-0.0, 0.0, 1.0]), 3000))
    assert [math.copysign(1, v) for v in signed[:2]] == [-1.0, 1.0]
