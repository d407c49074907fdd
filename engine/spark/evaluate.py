"""The decision graph over Spark DataFrames. The driver binds and evaluates the
registers' columns on zero rows (so a missing column fails before any job, with
the one-machine message), then per entity:

1. numbers the rows as read (``monotonically_increasing_id``): the first row of a
   duplicate key is the earliest, as on one machine;
2. finds duplicate keys over all partitions (a narrow pass of the exact key,
   grouped by key) and joins the few later rows' flags back (broadcast);
3. for a child entity (contracts), joins its parent's decided rows (clients with
   client_tier) by the link column: broadcast when the parent has at most
   ``broadcast_rows`` rows, a shuffle (sort-merge) join otherwise;
4. decides the rows with ``mapInPandas`` over ``engine.spark.partition``: the
   one-machine evaluator on chunks, with the rules shipped once per executor
   (a broadcast variable).

A parent entity's decided rows are persisted: they are written and joined into
each child. Only the entity's own rows are shuffled (its keys to find
duplicates; all its columns only for a shuffle join with a large parent)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pandas as pd

from engine.errors import DataError, KadeError
from engine.evaluation.bind import bind, coerce, find_column, variable_column
from engine.evaluation.decisions import evaluate as evaluate_rows
from engine.evaluation.results import ERRORS_COLUMN, DecisionSummary, result_columns
from engine.io.registers import Sheet
from engine.io.tables import cell_frame
from engine.model import RuleSet, Variable
from engine.model.graph import referenced_names
from engine.spark import partition as part
from engine.spark.partition import (
    DUPLICATE,
    ERROR,
    KEY,
    ORDER,
    OUTPUT,
    PARENT,
    EntityPlan,
    ParentColumns,
    PartitionReport,
)

BROADCAST_ROWS = 2_000_000  # a parent with at most this many rows is broadcast to every child partition
CHUNK_ROWS = 50_000  # rows the evaluator decides at once in a Python worker
LINK = "__kade_link"  # the loose join key
ENTITY = "__kade_entity"
LIST_POLICIES = ("C", "R", "O")  # outputs that are lists of values
PANDAS_3_WARNING = "PySpark does not yet fully support pandas >= 3.0.0"


@dataclass
class SparkEvaluation:
    """The decided rows per entity - lazy Spark DataFrames: the data columns, then
    per decision its output(s), <decision>.rule and <decision>.reason, and
    kade.errors, as ``kade evaluate`` writes them - and, once they have been
    computed (written, collected), what each partition reported."""

    rules: RuleSet
    frames: dict[str, object]  # entity -> pyspark DataFrame
    sheets: dict[str, str]  # entity -> the input it was read from
    skipped: dict[str, str]  # decision -> why it did not run
    joins: dict[str, str]  # child entity -> 'broadcast' | 'shuffle' (how its parent was joined)
    duplicates: dict[str, int]  # entity -> rows whose key appeared before
    _reports: object = field(repr=False, default=None)  # the accumulator
    _persisted: list = field(repr=False, default_factory=list)

    def reports(self) -> list[PartitionReport]:
        """One report per (entity, partition) decided so far (a recomputed partition counts once)."""
        seen: dict[tuple[str, int], PartitionReport] = {}
        for report in self._reports.value:  # type: ignore[attr-defined]
            seen.setdefault((report.entity, report.partition), report)
        return [seen[k] for k in sorted(seen)]

    def summary(self) -> list[DecisionSummary]:
        """The per-decision summary over every partition reported, in decision order."""
        merged: dict[str, part.DecisionTally] = {}
        for report in self.reports():
            for name, tally in report.decisions.items():
                merged.setdefault(name, part.DecisionTally(tally.entity)).add(tally)
        order = [t.name for t in self.rules.decisions if t.name in merged]
        return part.summaries({name: merged[name] for name in order})

    def error_rows(self) -> int:
        return sum(r.error_rows for r in self.reports() if r.entity in self.frames)

    def unpersist(self) -> None:
        for frame in self._persisted:
            frame.unpersist()


def evaluate(
    rules: RuleSet,
    frames: dict[str, object],
    *,
    broadcast_rows: int = BROADCAST_ROWS,
    chunk_rows: int = CHUNK_ROWS,
    min_partitions: int | None = None,
) -> SparkEvaluation:
    """Decide every row of Spark DataFrames named by entity or sheet
    (``{"clients": df}`` or ``{"客户": df}``), as ``kade evaluate`` decides a
    workbook. Raises MissingColumnError (every missing column at once) before
    any Spark job runs. Inputs must be deterministic (read from files, not
    randomly repartitioned): rows are numbered once and found again by number.
    An entity read into fewer than ``min_partitions`` partitions (default: two
    per core) is spread over that many first: deciding is CPU work, and a
    compressed table of millions of rows is often a single file split."""
    from pyspark.sql import functions as F

    warnings.filterwarnings("ignore", message=PANDAS_3_WARNING, category=FutureWarning)
    if not frames:
        raise DataError("no DataFrames to evaluate")
    spark = next(iter(frames.values())).sparkSession  # type: ignore[attr-defined]
    sheets = [Sheet(name, _empty(df.columns)) for name, df in frames.items()]  # type: ignore[attr-defined]
    plan_rows = bind(rules, sheets, "Spark DataFrames")
    plan = evaluate_rows(rules, plan_rows)
    decided = [e for e in plan_rows if plan.for_entity(e)]
    parents = {rules.entities[e].parent for e in decided} & set(plan_rows)
    plans = _plans(rules, plan, [e for e in plan_rows if e in decided or e in parents], frames)
    reports = spark.sparkContext.accumulator([], _Reports())
    out = SparkEvaluation(rules, {}, {e: plan_rows[e].sheet for e in decided}, dict(plan.skipped), {}, {}, reports)
    spread = min_partitions or 2 * spark.sparkContext.defaultParallelism
    numbered = {entity: _spread(_numbered(frames[plan_rows[entity].sheet]), spread) for entity in plans}
    later, out.duplicates = _duplicates(numbered, rules, plans)
    results: dict[str, object] = {}
    for entity, entity_plan in plans.items():  # parents first
        df = _flag_duplicates(numbered[entity], later, entity, out.duplicates[entity], broadcast_rows)
        parent = entity_plan.parent
        if parent is not None:
            parent_rows = results[parent.entity]
            small = parent_rows.count() <= broadcast_rows  # type: ignore[attr-defined]
            out.joins[entity] = "broadcast" if small else "shuffle"
            df = _join_parent(df, parent_rows, rules, entity_plan, small)
        decided_rows = _decide(df, entity_plan, reports, chunk_rows)
        if entity_plan.entity in parents:
            decided_rows = decided_rows.persist()
            out._persisted.append(decided_rows)
        results[entity] = decided_rows
        if entity in decided:
            columns = [*entity_plan.output_data, *entity_plan.result_columns]
            out.frames[entity] = decided_rows.select(*[F.col(_quoted(c)) for c in columns])
    return out


# --------------------------------------------------------------- planning ------


def _plans(rules: RuleSet, plan, entities: list[str], frames) -> dict[str, EntityPlan]:
    """Per entity, parents first: its rules, the columns it reads, the parent
    columns its chunks need, the outputs its children need."""
    plan_rows = plan.rows
    ordered = sorted(entities, key=lambda e: _depth(rules, e))
    plans: dict[str, EntityPlan] = {}
    for entity in ordered:
        sheet = plan_rows[entity].sheet
        data = [c for c in frames[sheet].columns if c != ORDER]
        results = list(result_columns(plan, entity).columns) if plan.for_entity(entity) else [ERRORS_COLUMN]
        types = _result_types(rules, entity, results)
        variables = dict(rules.variables)
        parent = None
        parent_name = rules.entities[entity].parent
        if parent_name in plans:
            parent, overrides = _parent_columns(rules, entity, plans[parent_name])
            variables.update(overrides)
        own = RuleSet(variables, rules.entities, [t for t in rules.decisions if t.entity == entity], rules.sources)
        plans[entity] = EntityPlan(
            entity,
            sheet,
            own,
            data,
            [c for c in data if c not in results],
            results,
            [c for c, t in types.items() if t == "string" and not c.endswith((".rule", ".reason"))],
            parent,
        )
    for entity_plan in plans.values():  # the outputs each parent's children read
        if entity_plan.parent is not None:
            p = plans[entity_plan.parent.entity]
            for name in entity_plan.parent.errors:
                if name not in p.payload:
                    p.payload.append(name)
                    producer = rules.producer(name)
                    assert producer is not None
                    p.producers[name] = producer.name
    for entity_plan in plans.values():
        _check(entity_plan)
    return plans


def _empty(columns) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns if c != ORDER})


def _depth(rules: RuleSet, entity: str) -> int:
    depth, parent = 0, rules.entities[entity].parent
    while parent:
        depth, parent = depth + 1, rules.entities[parent].parent
    return depth


def _parent_columns(rules: RuleSet, entity: str, parent: EntityPlan) -> tuple[ParentColumns, dict[str, Variable]]:
    """The parent columns a child chunk needs: the key, the parent variables its
    decisions read, and the parent's outputs they read (with their errors). In
    the child's rules a parent output is a variable of the parent, typed as the
    output, read from a joined column."""
    parent_entity = rules.entities[parent.entity]
    names = {parent_entity.key}
    overrides: dict[str, Variable] = {}
    errors: dict[str, str] = {}
    for table in rules.decisions:
        if table.entity != entity:
            continue
        for name in referenced_names(table):
            producer = rules.producer(name)
            owner = producer.entity if producer is not None else getattr(rules.variables.get(name), "entity", None)
            if owner is None or owner == entity:
                continue
            if owner != parent.entity:
                raise KadeError(
                    f"decision {table.name} over {entity} uses {name} of {owner}; on Spark a decision may use "
                    f"values of its own rows and of its parent ({parent.entity}) only"
                )
            if producer is None:
                names.add(name)
                continue
            clause = next(c for c in producer.outputs if c.name == name)
            if clause.type is None or producer.hit_policy in LIST_POLICIES:
                raise KadeError(
                    f"decision {table.name} over {entity} uses {name}, an output of {producer.name} that is "
                    f"{'untyped' if clause.type is None else 'a list'}; on Spark a value used across entities "
                    "needs a type (number, string, boolean, date) in its decision table"
                )
            overrides[name] = Variable(name, parent.entity, (OUTPUT + name,), clause.type)
            errors[name] = ERROR + name
    headers: dict[str, str] = {}
    for i, name in enumerate(sorted(names)):
        column = variable_column(rules.variables[name], parent.data_columns)
        assert column is not None  # bind on zero rows found it
        headers[f"{PARENT}{i}"] = column
    headers.update({OUTPUT + name: OUTPUT + name for name in overrides})
    return ParentColumns(parent.entity, parent.sheet, headers, f"{PARENT}key", errors), overrides


def _result_types(rules: RuleSet, entity: str, columns: list[str]) -> dict[str, str]:
    """Spark type (DDL) of each result column, from the decision tables."""
    types = dict.fromkeys(columns, "string")
    base = {"number": "double", "string": "string", "boolean": "boolean", "date": "date"}
    for table in rules.decisions:
        if table.entity != entity:
            continue
        for clause in table.outputs:
            if clause.name not in types:
                continue
            if table.hit_policy in ("C+", "C<", "C>", "C#"):
                types[clause.name] = "double"
            elif table.hit_policy in LIST_POLICIES:
                types[clause.name] = f"array<{base.get(clause.type or '', 'string')}>"
            else:
                types[clause.name] = base.get(clause.type or "", "string")
    return types


def _check(entity_plan: EntityPlan) -> None:
    """Decide zero rows as an executor would: the plan's columns must be what it gives."""
    columns = [ORDER, DUPLICATE, *entity_plan.data_columns]
    if entity_plan.parent is not None:
        p = entity_plan.parent
        columns += [*p.headers, p.key, *p.errors.values()]
    empty = _empty(dict.fromkeys(columns))
    empty[ORDER] = pd.Series([], dtype="int64")
    _, out, _ = part.decide(entity_plan, empty)
    got = list(out.columns)
    expected = [*entity_plan.output_data, *entity_plan.result_columns]
    if got[: len(expected)] != expected:
        raise KadeError(f"internal: {entity_plan.entity} decides columns {got}, expected {expected}")


# ---------------------------------------------------------------- Spark --------


def _numbered(df):
    """The rows with their position as read: kept when the frame has it
    (``engine.spark.read_tables``: file and row in file), else Spark's
    partition-and-row number."""
    from pyspark.sql import functions as F

    return df if ORDER in df.columns else df.withColumn(ORDER, F.monotonically_increasing_id())


def _spread(df, partitions: int):
    """At least ``partitions`` partitions (hashed by row number: the same rows land
    in the same partition if a stage is computed again)."""
    if df.rdd.getNumPartitions() >= partitions:
        return df
    return df.repartition(partitions, ORDER)


def _quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _key_texts(rules: RuleSet, entity: str, column: str):
    """A chunk's exact keys as text, as bind reads them."""
    variable = rules.variables[rules.entities[entity].key]

    def keys(batches):
        for batch in batches:
            values, _ = coerce(cell_frame(batch[[column]])[column].to_numpy(dtype=object), variable)
            yield pd.DataFrame(
                {ORDER: batch[ORDER].to_numpy(), KEY: part._as_text(pd.Series(values.python_values(), dtype=object))}
            )

    return keys


def _duplicates(numbered: dict, rules: RuleSet, plans: dict[str, EntityPlan]):
    """The later rows of every key that appears more than once, over all
    partitions of every entity (one job), and their number per entity. A narrow
    pass computes the exact keys as bind does; only (entity, key, row number)
    is shuffled."""
    from pyspark.sql import functions as F

    keyed = []
    for entity, frame in numbered.items():
        column = variable_column(rules.variables[rules.entities[entity].key], plans[entity].data_columns)
        if column is None:
            continue
        keys = frame.select(ORDER, F.col(_quoted(column))).mapInPandas(
            _key_texts(rules, entity, column), f"{ORDER} long, {KEY} string"
        )
        keyed.append(keys.where(F.col(KEY).isNotNull()).withColumn(ENTITY, F.lit(entity)))
    counts = dict.fromkeys(numbered, 0)
    if not keyed:
        return None, counts
    union = keyed[0]
    for more in keyed[1:]:
        union = union.unionByName(more)
    # a hash aggregation finds the repeated keys; only they are looked at again
    repeated = (
        union.groupBy(ENTITY, KEY)
        .agg(F.count(F.lit(1)).alias("__kade_rows"), F.min(ORDER).alias("__kade_first"))
        .where(F.col("__kade_rows") > 1)
    )
    totals = repeated.groupBy(ENTITY).agg(F.sum(F.col("__kade_rows") - 1).alias("later")).collect()
    counts.update({row[ENTITY]: int(row["later"]) for row in totals})
    if not any(counts.values()):
        return None, counts
    later = union.join(repeated, [ENTITY, KEY]).where(F.col(ORDER) != F.col("__kade_first"))
    return later.select(ENTITY, ORDER, F.lit(True).alias(DUPLICATE)), counts


def _flag_duplicates(df, later, entity: str, count: int, broadcast_rows: int):
    """The entity's rows with a boolean column: a later row of a duplicate key."""
    from pyspark.sql import functions as F

    if count == 0:
        return df.withColumn(DUPLICATE, F.lit(False))
    flags = later.where(F.col(ENTITY) == entity).drop(ENTITY)
    joined = df.join(F.broadcast(flags) if count <= broadcast_rows else flags, ORDER, "left")
    return joined.withColumn(DUPLICATE, F.coalesce(F.col(DUPLICATE), F.lit(False)))


def loose_key(column, spark_type):
    """The link as text, loosely: ends trimmed of any space or control character,
    whole numbers without '.0'. Rows that match exactly (bind's comparison) always
    match loosely; the exact match is made again on the executor."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if isinstance(spark_type, (T.FloatType, T.DoubleType)):
        text = F.when(column == F.floor(column), column.cast("long").cast("string")).otherwise(column.cast("string"))
    elif isinstance(spark_type, T.TimestampType):
        text = F.regexp_replace(column.cast("string"), " 00:00:00$", "")
    else:
        text = column.cast("string")
    trimmed = F.regexp_replace(text, r"^[\s\p{Z}\p{Cc}]+|[\s\p{Z}\p{Cc}]+$", "")
    return F.when(trimmed != "", trimmed)


def _join_parent(df, parent_rows, rules: RuleSet, entity_plan: EntityPlan, broadcast: bool):
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    p = entity_plan.parent
    assert p is not None
    link = find_column(entity_plan.data_columns, rules.entities[entity_plan.entity].link or ())
    assert link is not None  # bind on zero rows found it
    payload = parent_rows.where(~F.col(DUPLICATE) & F.col(KEY).isNotNull()).select(
        loose_key(F.col(KEY), T.StringType()).alias(LINK),
        F.col(KEY).alias(p.key),
        *[F.col(_quoted(_source(header))).alias(joined) for joined, header in p.headers.items()],
        *[F.col(_quoted(column)) for column in p.errors.values()],
    )
    field_type = df.schema[link].dataType
    left = df.withColumn(LINK, loose_key(F.col(_quoted(link)), field_type))
    return left.join(F.broadcast(payload) if broadcast else payload, LINK, "left").drop(LINK)


def _source(header: str) -> str:
    """The column of the parent's decided rows a joined parent column comes from:
    a data column, or an output (read in the child as a parent variable)."""
    return header[len(OUTPUT) :] if header.startswith(OUTPUT) else header


def _decide(df, entity_plan: EntityPlan, reports, chunk_rows: int):
    from pyspark import TaskContext
    from pyspark.sql import types as T

    spark = df.sparkSession
    shipped = spark.sparkContext.broadcast(entity_plan)  # the rules, once per executor
    types = _result_types(entity_plan.rules, entity_plan.entity, entity_plan.result_columns)
    fields = [df.schema[c] for c in entity_plan.output_data]
    fields += [T.StructField(c, T._parse_datatype_string(types[c])) for c in entity_plan.result_columns]
    fields.append(T.StructField(ORDER, T.LongType()))
    if entity_plan.payload:
        fields += [T.StructField(DUPLICATE, T.BooleanType()), T.StructField(KEY, T.StringType())]
        fields += [T.StructField(ERROR + name, T.StringType()) for name in entity_plan.payload]

    def run(batches):
        context = TaskContext.get()
        index = context.partitionId() if context is not None else 0
        yield from part.decide_partition(shipped.value, batches, index, chunk_rows, lambda r: reports.add([r]))

    return df.mapInPandas(run, T.StructType(fields))


try:
    from pyspark.accumulators import AccumulatorParam
except ImportError:  # pragma: no cover - engine.spark is used only with the kade[spark] extra
    AccumulatorParam = object  # type: ignore[assignment,misc]


class _Reports(AccumulatorParam):
    """Partition reports gathered from the executors."""

    def zero(self, value):
        return []

    def addInPlace(self, value1, value2):
        value1.extend(value2)
        return value1


__all__ = ["BROADCAST_ROWS", "CHUNK_ROWS", "SparkEvaluation", "evaluate", "loose_key"]
