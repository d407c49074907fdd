"""What Spark's executors run: one entity's rows - with their parent's values
joined in - decided by the one-machine path (``bind``, ``evaluate``,
``result_columns``) a chunk at a time, and what each partition reports back
(row count, digests of its input and output rows, the decision summary). Pure
pandas: no Spark import, so it is tested and profiled like the rest of the engine.

A child row (a contract) arrives with the columns of the parent row (its client)
that the join found for it. The join matches on a loose form of the link; the
exact match is ``bind``'s, on the chunk: the parent rows in it become the parent
sheet, so a contract whose client is missing gets the same error as on one
machine. A loose match can pair one child row with two parent rows; such copies
are adjacent in a partition, never split between chunks, and counted once.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine.evaluation.bind import bind, mark_duplicate_keys
from engine.evaluation.columns import is_none
from engine.evaluation.decisions import Evaluation, evaluate
from engine.evaluation.results import MAX_OUTCOMES, DecisionSummary, error_rows, result_columns, summarize
from engine.io.cells import cell_values
from engine.io.registers import Sheet
from engine.io.tables import cell_frame
from engine.model import RuleSet
from engine.text import format_values

ORDER = "__kade_order"  # row position as read: the earlier row of a duplicate key is the first
DUPLICATE = "__kade_dup"  # a later row of a key seen before, over all partitions
KEY = "__kade_key"  # the row key as text: what child rows link to
ERROR = "__kade_error__"  # + output name: the row errors of the decision producing it (for child rows)
PARENT = "__kade_parent__"  # + n: a parent column joined into a child row
OUTPUT = "__kade_output__"  # + name: a parent's output joined into a child row
OUTCOME_CAP = 2000  # distinct first-output values a summary counts; beyond, numbers show their range


@dataclass
class ParentColumns:
    """How a child chunk rebuilds its parent sheet from the joined columns."""

    entity: str
    sheet: str
    headers: dict[str, str]  # joined column -> header in the rebuilt parent sheet
    key: str  # joined column holding the parent's key as text
    errors: dict[str, str] = field(default_factory=dict)  # parent variable (an output) -> joined error column


@dataclass
class EntityPlan:
    """Everything an executor needs for one entity, shipped once per executor."""

    entity: str
    sheet: str
    rules: RuleSet  # this entity's decisions; parent outputs read as parent variables
    data_columns: list[str]  # the entity's own columns, as read
    output_data: list[str]  # data columns kept in the results (a re-evaluated results file loses its old ones)
    result_columns: list[str]
    string_results: list[str]  # result columns Spark holds as text
    parent: ParentColumns | None = None
    payload: list[str] = field(default_factory=list)  # this entity's outputs its children use
    producers: dict[str, str] = field(default_factory=dict)  # payload output -> decision producing it


# ------------------------------------------------------------- deciding --------


def decide(plan: EntityPlan, batch: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, Evaluation]:
    """(input rows in read order, output rows, evaluation) of one chunk."""
    batch = batch.sort_values(ORDER, kind="stable")  # a shuffle join mixes the order; duplicates need it
    own = batch.drop_duplicates(ORDER) if plan.parent is not None else batch
    own = own.reset_index(drop=True)
    sheets = [Sheet(plan.sheet, cell_frame(own[plan.data_columns]))]
    parent_rows = None
    if plan.parent is not None:
        p = plan.parent
        joined = list(dict.fromkeys([*p.headers, p.key, *p.errors.values()]))
        parent_rows = batch[joined].dropna(subset=[p.key]).drop_duplicates(p.key)
        cells = cell_frame(parent_rows[list(p.headers)]).rename(columns=p.headers)
        sheets.append(Sheet(p.sheet, cells))
    rows = bind(plan.rules, sheets, plan.sheet)
    if plan.parent is not None and plan.parent.entity in rows:
        assert parent_rows is not None
        for name, column in plan.parent.errors.items():
            messages = cell_frame(parent_rows[[column]])[column].to_numpy(dtype=object)
            if (~is_none(messages)).any():
                rows[plan.parent.entity].cell_errors[name] = messages
    mark_duplicate_keys(plan.rules, rows[plan.entity], own[DUPLICATE].to_numpy(dtype=bool))
    evaluation = evaluate(plan.rules, rows)
    results = result_columns(evaluation, plan.entity)
    for name in plan.string_results:  # an untyped output: its values as text
        results[name] = _as_text(results[name])
    out = pd.concat([_one_chunk(own[plan.output_data]), results], axis=1)
    out[ORDER] = own[ORDER].to_numpy()
    if plan.payload:
        out[DUPLICATE] = own[DUPLICATE].to_numpy()
        keys = rows[plan.entity].keys
        out[KEY] = _as_text(pd.Series(keys, dtype=object)) if keys is not None else None
        for name in plan.payload:
            out[ERROR + name] = pd.Series(evaluation.results[plan.producers[name]].errors, dtype=object)
    return own, out, evaluation


def _one_chunk(frame: pd.DataFrame) -> pd.DataFrame:
    """Arrow-backed text columns as one Arrow array each: concatenated batches leave
    them in pieces, which Spark's conversion back to Arrow does not take."""
    import pyarrow as pa

    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.StringDtype)]
    if not text:
        return frame
    frame = frame.copy()
    for name in text:
        array = pa.Array.from_pandas(frame[name])
        if isinstance(array, pa.ChunkedArray):
            frame[name] = array.combine_chunks().to_pandas()
    return frame


def _as_text(values: pd.Series) -> pd.Series:
    """Values as the text a sheet shows (None stays None); text stays as it is."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        out = values.astype(object)
        return out.where(out.notna(), None)
    text = pd.Series(cell_values(values), dtype=object)
    return text.map(str, na_action="ignore").astype(object)


def chunks(batches: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Arrow batches gathered into chunks of about ``rows`` rows (the evaluator is
    fastest on large arrays); copies of one child row (adjacent) stay together."""
    pending: list[pd.DataFrame] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += len(batch)
        if size < rows:
            continue
        frame = pd.concat(pending, ignore_index=True)
        order = frame[ORDER].to_numpy()
        different = np.flatnonzero(order != order[-1])
        cut = int(different[-1]) + 1 if len(different) else 0
        if cut == 0:
            pending, size = [frame], len(frame)
            continue
        yield frame.iloc[:cut]
        pending, size = [frame.iloc[cut:]], len(frame) - cut
    if size:
        yield pd.concat(pending, ignore_index=True)


# ------------------------------------------------------- what is reported ------


class RowsDigest:
    """SHA-256 of rows, fed a chunk at a time; the same rows give the same digest
    however they are cut into chunks and whether they come from a Spark batch
    (pandas) or a Parquet file read back (Arrow). Each cell is taken as Arrow's
    text of its value (a number 1001 and 1001.0 alike, a date as ISO, a list
    as its items), and per column its text lengths (-1 for an empty cell) and
    its text bytes are hashed - vectorized, no per-cell Python."""

    def __init__(self, columns: Iterable[str]):
        self.columns = list(columns)
        self.parts = [(hashlib.sha256(), hashlib.sha256()) for _ in self.columns]

    def update(self, rows) -> None:
        """``rows``: a pandas DataFrame or an Arrow table with (at least) the columns."""
        import pyarrow as pa

        for name, (lengths, data) in zip(self.columns, self.parts):
            column = rows[name]
            array = _arrow(column) if isinstance(column, pd.Series) else column
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
            text = _canonical_text(array)
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
            sizes = np.diff(offsets)
            sizes[~np.asarray(text.is_valid().to_numpy(zero_copy_only=False), dtype=bool)] = -1
            lengths.update(sizes.tobytes())
            if len(offsets) and offsets[-1] > offsets[0]:
                data.update(memoryview(text.buffers()[2])[int(offsets[0]) : int(offsets[-1])])

    def hexdigest(self) -> str:
        digest = hashlib.sha256("\x1f".join(self.columns).encode("utf-8"))
        for lengths, data in self.parts:
            digest.update(lengths.digest())
            digest.update(data.digest())
        return digest.hexdigest()


def _arrow(series: pd.Series):
    """A pandas column as Arrow; a column of mixed values as the text a sheet shows."""
    import pyarrow as pa

    try:
        return pa.Array.from_pandas(series)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
        return pa.array(_as_text(series), type=pa.large_string(), from_pandas=True)


def _canonical_text(array):
    """The cells of an Arrow array as large_string, empty text for a null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = array.type
    if pa.types.is_dictionary(kind):
        array, kind = array.dictionary_decode(), array.type.value_type
    if pa.types.is_timestamp(kind):  # naive (a Spark batch in UTC) and UTC-aware (read back) alike
        array = pc.cast(array, pa.timestamp("us", tz=kind.tz), safe=False).view(pa.int64())
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind):
        items = pc.cast(array.flatten(), pa.large_string())
        rebuilt = pa.LargeListArray.from_arrays(pc.subtract(array.offsets, array.offsets[0]).cast(pa.int64()), items)
        joined = pc.binary_join(rebuilt, pa.scalar("\x1e", pa.large_string()))
        array = pc.if_else(array.is_valid(), joined, pa.scalar(None, pa.large_string()))
    elif pa.types.is_null(kind):
        array = pa.nulls(len(array), pa.large_string())
    text = pc.cast(array, pa.large_string())
    return pc.fill_null(text, "") if text.null_count else text


@dataclass
class DecisionTally:
    """One decision's summary so far: rows, errors, first-output counts, range."""

    entity: str | None
    rows: int = 0
    errors: int = 0
    outcomes: Counter = field(default_factory=Counter)
    many: bool = False  # more than OUTCOME_CAP distinct values: only the range is kept
    low: float | None = None
    high: float | None = None
    first: dict = field(default_factory=dict)  # value -> row number of its first row (orders ties as one machine)

    def add(self, other: DecisionTally) -> None:
        self.rows += other.rows
        self.errors += other.errors
        self.many = self.many or other.many
        self.outcomes.update(other.outcomes)
        for value, row in other.first.items():
            self.first[value] = min(row, self.first.get(value, row))
        if self.many or len(self.outcomes) > OUTCOME_CAP:
            self.many, self.outcomes, self.first = True, Counter(), {}
        ranges = (
            [v for v in (self.low, other.low) if v is not None],
            [v for v in (self.high, other.high) if v is not None],
        )
        self.low, self.high = (min(ranges[0]) if ranges[0] else None), (max(ranges[1]) if ranges[1] else None)


def tally(evaluation: Evaluation, order: np.ndarray) -> dict[str, DecisionTally]:
    """Per decision of a chunk: its summary, the range of a numeric output, and
    where each value first appears (``order``: the rows' numbers as read)."""
    out = {}
    for summary in summarize(evaluation):
        result = evaluation.results[summary.decision]
        first = result.outputs[result.decision.outputs[0].name]
        counted = DecisionTally(summary.entity, summary.rows, summary.errors, Counter(dict(summary.outcomes)))
        if len(summary.outcomes) <= OUTCOME_CAP:
            texts = format_values(first.type, first.values[result.ok])
            counted.first = pd.Series(order[result.ok]).groupby(texts).min().to_dict()
        if first.is_float and first.type == "number":
            finite = first.values[result.ok & ~np.isnan(first.values)]
            if len(finite):
                counted.low, counted.high = float(finite.min()), float(finite.max())
        out[summary.decision] = counted
    return out


def summaries(tallies: dict[str, DecisionTally]) -> list[DecisionSummary]:
    """The merged tallies as the one-machine summary (``engine.evaluation.results``)."""
    out = []
    for name, t in tallies.items():
        shown = None if t.low is None or t.high is None else (t.low, t.high)
        many = t.many or len(t.outcomes) > MAX_OUTCOMES
        outcomes = sorted(t.outcomes.items(), key=lambda item: (-item[1], t.first.get(item[0], 0)))
        out.append(DecisionSummary(name, t.entity, t.rows, t.errors, outcomes, shown if many else None))
    return out


@dataclass
class PartitionReport:
    """What one partition of one entity reports to the driver (and the audit)."""

    entity: str
    partition: int
    rows: int = 0
    first_key: str | None = None
    last_key: str | None = None
    input_sha256: str = ""
    output_sha256: str = ""
    error_rows: int = 0
    decisions: dict[str, DecisionTally] = field(default_factory=dict)


def decide_partition(plan: EntityPlan, batches: Iterable[pd.DataFrame], partition: int, chunk_rows: int, report):
    """Decide a partition chunk by chunk, yielding output frames; ``report`` gets
    the partition's PartitionReport once every row is decided."""
    done = PartitionReport(plan.entity, partition)
    inputs = RowsDigest(plan.data_columns)
    outputs = RowsDigest([*plan.output_data, *plan.result_columns])
    for chunk in chunks(batches, chunk_rows):
        own, out, evaluation = decide(plan, chunk)
        inputs.update(own)
        outputs.update(out)
        keys = evaluation.rows[plan.entity].keys
        if keys is not None and len(keys):
            done.first_key = done.first_key if done.first_key is not None else _key_text(keys[0])
            done.last_key = _key_text(keys[-1])
        done.rows += len(own)
        done.error_rows += error_rows(evaluation)
        for name, counted in tally(evaluation, own[ORDER].to_numpy()).items():
            done.decisions.setdefault(name, DecisionTally(counted.entity)).add(counted)
        yield out
    done.input_sha256, done.output_sha256 = inputs.hexdigest(), outputs.hexdigest()
    report(done)


def _key_text(key) -> str | None:
    return None if key is None else str(key)
