"""durable-rules as kade's second evaluator: only *matching* is done by its Rete
engine; hit policies, outputs and reasons are shared with the vectorized path
(``evaluate_table(..., matcher=DurableMatcher())``), so the two can be compared
row by row.

durable-rules 2.0.28 is unmaintained and has defects that lose or corrupt results
silently (../shared/notes/durable_rules.md). This wrapper avoids each one:

| defect | how it is avoided |
|---|---|
| 1024-session cap, sid hash collisions | one sid per ruleset; each row is asserted then retracted, so one fact is live at a time |
| 32-bit message-id collisions | ids are never reused (a counter); a rejected id (MessageObservedException) is retried with a new id and counted, never dropped |
| segfault in delete_state with host threads | a host without background threads (SyncHost); states are never deleted |
| no rule unload, ~0.5 MB leaked per load | rules run in a worker process that is replaced after WORKER_LOADS rule versions |
| not thread-safe | one lock around the worker; actions attribute hits from the fact itself (c.m) |
| > 64 simultaneously true conditions (error 303), 512-child buckets | a table is split into rulesets of at most CONDITIONS_PER_RULESET conditions |
| not-exists-only rules loop forever | never emitted: every rule has a positive condition |
| action exceptions swallowed | actions only record hits; state['exception'] is checked after every row |
| string/number mix-ups, null semantics | values are typed before posting; null is a separate flag (FEEL three-valued logic is compiled, not left to the engine) |

What it cannot express (comparing two columns, computed input expressions) is
refused by ``compile_table`` with the table, rule and reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import NoReturn

import numpy as np

from engine import feel
from engine.errors import KadeError, RuleStructureError
from engine.evaluation.columns import Column, literal_value

CONDITIONS_PER_RULESET = 56  # < 64 true alpha conditions, with room for the always-true guard
WORKER_LOADS = 50  # rule versions one worker process loads before it is replaced
MAX_INPUTS = 120  # 2 properties per input + 3 < 252, durable-rules' row width
DURABLE_VERSION = "2.0.28"
INSTALL_HINT = (
    'install it with: CPPFLAGS="-O2 -DNDEBUG -DPyEval_CallObject=PyObject_CallObject" '
    f"pip install --no-cache-dir --force-reinstall durable-rules=={DURABLE_VERSION}"
)


class DurableUnavailable(KadeError):
    """durable-rules cannot be imported here."""


class DurableError(KadeError):
    """The durable-rules worker failed (crash, unexpected engine error)."""


def availability() -> str | None:
    """None when durable-rules works here, else why not and how to fix it."""
    try:
        import durable.engine  # noqa: F401
    except ImportError as exc:
        return f"durable-rules is not usable on this Python ({exc}); {INSTALL_HINT}"
    return None


# ------------------------------------------------------------ compiling --------


@dataclass(frozen=True)
class CompiledTable:
    key: str  # content hash: a new rule version gets a new key (and new rulesets)
    chunks: tuple[tuple[tuple[int, dict], ...], ...]  # per ruleset: (rule index, condition JSON)
    kinds: tuple[str, ...]  # per input: 'float' or 'str'


def _refuse(table, rule, why: str) -> NoReturn:
    raise RuleStructureError(
        f"durable-rules cannot evaluate decision {table.name}, rule {rule.id}: {why}", rule.position
    )


def _field(j: int) -> str:
    return f"i{j}"


def _null(j: int) -> str:
    return f"n{j}"


def _value(kind: str, lit: feel.Literal, table, rule):
    if not isinstance(lit, feel.Literal):
        _refuse(table, rule, "it compares with another column or an expression")
    if lit.type is None:
        return None
    value = literal_value(lit.type, lit.value)
    if (kind == "float") != isinstance(value, float):
        return _MISMATCH
    return value


_MISMATCH = object()  # a literal of another type than the column: FEEL says null, i.e. never true
_NEVER = {"$lt": {"r": 0}}  # r is the row counter, never negative
_ALWAYS = {"$gte": {"r": 0}}
_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "!=": "$neq"}
_NEGATED = {"<": ">=", "<=": ">", ">": "<=", ">=": "<"}


def _cmp(j: int, op: str, value) -> dict:
    if op == "=":
        return {_field(j): value}
    return {_OPS[op]: {_field(j): value}}


def _known(j: int, cond: dict) -> dict:
    return {"$and": [{_null(j): 0}, cond]}


def _true(test, j: int, kind: str, table, rule) -> dict:
    """Condition under which the unary test is TRUE (FEEL three-valued logic)."""
    if isinstance(test, feel.NullTest):
        return {_null(j): 1}
    if isinstance(test, feel.Compare):
        value = _value(kind, test.endpoint, table, rule)
        if value is _MISMATCH:
            return _NEVER
        if value is None:  # '= null' / '!= null'
            return {_null(j): 1} if test.op == "=" else {_null(j): 0} if test.op == "!=" else _NEVER
        if test.op == "!=":  # null != x is true in FEEL
            return {"$or": [{_null(j): 1}, _cmp(j, "!=", value)]}
        return _known(j, _cmp(j, test.op, value))
    if isinstance(test, feel.Range):
        low, high = _value(kind, test.low, table, rule), _value(kind, test.high, table, rule)
        if _MISMATCH in (low, high) or None in (low, high):
            return _NEVER
        return {
            "$and": [
                {_null(j): 0},
                _cmp(j, ">=" if test.low_closed else ">", low),
                _cmp(j, "<=" if test.high_closed else "<", high),
            ]
        }
    if isinstance(test, feel.AnyOf):
        parts = [_true(t, j, kind, table, rule) for t in test.tests]
        return parts[0] if len(parts) == 1 else {"$or": parts}
    if isinstance(test, feel.Not):
        return _false(test.tests, j, kind, table, rule)
    _refuse(table, rule, f"unsupported test {test!r}")


def _false(test, j: int, kind: str, table, rule) -> dict:
    """Condition under which the unary test is FALSE (not null): what not(...) matches."""
    if isinstance(test, feel.AnyTest):
        return _NEVER
    if isinstance(test, feel.NullTest):
        return {_null(j): 0}
    if isinstance(test, feel.Compare):
        value = _value(kind, test.endpoint, table, rule)
        if value is _MISMATCH:
            return _NEVER  # null, never false
        if value is None:
            return {_null(j): 0} if test.op == "=" else {_null(j): 1} if test.op == "!=" else _NEVER
        if test.op == "=":  # null = x is false
            return {"$or": [{_null(j): 1}, _cmp(j, "!=", value)]}
        if test.op == "!=":
            return _known(j, _cmp(j, "=", value))
        return _known(j, _cmp(j, _NEGATED[test.op], value))
    if isinstance(test, feel.Range):
        low, high = _value(kind, test.low, table, rule), _value(kind, test.high, table, rule)
        if _MISMATCH in (low, high) or None in (low, high):
            return _NEVER
        below = _cmp(j, "<" if test.low_closed else "<=", low)
        above = _cmp(j, ">" if test.high_closed else ">=", high)
        return {"$and": [{_null(j): 0}, {"$or": [below, above]}]}
    if isinstance(test, feel.AnyOf):
        parts = [_false(t, j, kind, table, rule) for t in test.tests]
        return parts[0] if len(parts) == 1 else {"$and": parts}
    _refuse(table, rule, f"unsupported test {test!r}")


def _atoms(cond: dict) -> int:
    """Leaf comparisons in a condition: each can be one true alpha node."""
    if "$and" in cond or "$or" in cond:
        return sum(_atoms(c) for c in next(iter(cond.values())))
    return 1


def compile_table(table) -> CompiledTable:
    """The table as durable-rules conditions, split to stay under its limits."""
    if len(table.inputs) > MAX_INPUTS:
        raise RuleStructureError(
            f"durable-rules cannot evaluate decision {table.name}: more than {MAX_INPUTS} inputs", table.position
        )
    kinds = tuple("str" if c.type == "string" else "float" for c in table.inputs)
    for clause in table.inputs:
        if not isinstance(clause.expr, feel.Name):
            raise RuleStructureError(
                f"durable-rules cannot evaluate decision {table.name}: input {clause.label!r} is an expression",
                clause.position,
            )
    conditions = []
    for r, rule in enumerate(table.rules):
        parts = [
            _true(test, j, kinds[j], table, rule)
            for j, test in enumerate(rule.inputs)
            if not isinstance(test, feel.AnyTest)
        ]
        # a positive guard first: a rule of only negative tests must not become a not-exists-only rule
        cond = {"$and": [_ALWAYS, *parts]} if parts else _ALWAYS
        if _atoms(cond) > CONDITIONS_PER_RULESET:
            _refuse(table, rule, f"more than {CONDITIONS_PER_RULESET} conditions in one rule")
        conditions.append((r, cond))
    chunks: list[tuple] = []
    current: list = []
    size = 0
    for r, cond in conditions:
        n = _atoms(cond)
        if current and size + n > CONDITIONS_PER_RULESET:
            chunks.append(tuple(current))
            current, size = [], 0
        current.append((r, cond))
        size += n
    if current:
        chunks.append(tuple(current))
    key = hashlib.sha256(json.dumps([kinds, chunks], sort_keys=True, default=str).encode()).hexdigest()[:16]
    return CompiledTable(key, tuple(chunks), kinds)


# ------------------------------------------------------- the worker ------------


def _serve(read_fd: int, write_fd: int):
    """Entry point of the worker process (started by DurableMatcher)."""
    _worker_main(_Duplex(Connection(read_fd, writable=False), Connection(write_fd, readable=False)))


class _Duplex:
    """Two one-way pipes used as one connection (the worker's stdout stays free)."""

    def __init__(self, incoming: Connection, outgoing: Connection):
        self.incoming, self.outgoing = incoming, outgoing

    def send(self, obj):
        self.outgoing.send(obj)

    def recv(self):
        return self.incoming.recv()

    def close(self):
        self.incoming.close()
        self.outgoing.close()


def _worker_main(conn):  # runs in the worker process
    import durable.engine as de

    class SyncHost(de.Host):
        def _run(self):  # no background dispatch threads: no delete_state segfault, actions run inline
            pass

    host = SyncHost()
    loaded: dict[str, list[str]] = {}
    hits: list[tuple[int, int]] = []
    counter = 0
    retries = 0

    def action(rule_index: int):
        def run(c):
            try:
                hits.append((int(c.m["r"]), rule_index))
            except Exception:
                hits.append((-1, rule_index))

        return run

    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        kind = message[0]
        try:
            if kind == "load":
                _, key, chunks = message
                names = []
                for c, chunk in enumerate(chunks):
                    name = f"t{key}_{c}"
                    host.register_rulesets(
                        {
                            name: {
                                f"R{r}": {"all": [{"m": cond}], "pri": k + 1, "run": action(r)}
                                for k, (r, cond) in enumerate(chunk)
                            }
                        }
                    )
                    names.append(name)
                loaded[key] = names
                conn.send(("ok", None))
            elif kind == "match":
                _, key, kinds, columns, nulls, n = message
                hits.clear()
                for i in range(n):
                    fact = {"sid": "kade", "r": i}
                    for j in range(len(kinds)):
                        fact[f"i{j}"] = columns[j][i]
                        fact[f"n{j}"] = nulls[j][i]
                    for name in loaded[key]:
                        while True:
                            counter += 1
                            fact["id"] = f"k{counter}"
                            try:
                                state = host.assert_fact(name, fact)
                            except de.MessageNotHandledException:
                                break  # no rule of this ruleset matches: nothing stored
                            except Exception as exc:
                                if type(exc).__name__ == "MessageObservedException":
                                    retries += 1  # a 32-bit id collision: retry with a fresh id, never drop
                                    continue
                                raise
                            if isinstance(state, dict) and "exception" in state:
                                raise RuntimeError(f"rule action failed: {state['exception']}")
                            host.retract_fact(name, fact)
                            break
                rows = np.fromiter((h[0] for h in hits), dtype=np.int64, count=len(hits))
                rules = np.fromiter((h[1] for h in hits), dtype=np.int64, count=len(hits))
                conn.send(("ok", (rows, rules, retries)))
            elif kind == "stop":
                conn.send(("ok", None))
                return
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class DurableMatcher:
    """Match rows with durable-rules in a worker process. Callable like
    ``engine.evaluation.decisions.match_matrix``; thread-safe; replaces its worker after
    WORKER_LOADS rule versions so leaked engine memory never accumulates."""

    def __init__(self, worker_loads: int = WORKER_LOADS):
        why = availability()
        if why:
            raise DurableUnavailable(why)
        self.worker_loads = worker_loads
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._conn: _Duplex | None = None
        self._loaded: set[str] = set()
        self.id_retries = 0  # id collisions detected and retried (for tests and the audit)
        self.restarts = 0

    # process management
    def _start(self):
        # A plain subprocess (not multiprocessing): works whatever the caller's __main__ is.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        package_root = str(Path(__file__).resolve().parent.parent)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        code = f"from engine.evaluation.durable import _serve; _serve({to_child_r}, {from_child_w})"
        self._process = subprocess.Popen(
            [sys.executable, "-c", code], pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, env=env
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._conn = _Duplex(Connection(from_child_r, writable=False), Connection(to_child_w, readable=False))
        self._loaded = set()

    def close(self):
        with self._lock:
            self._stop()

    def _stop(self):
        if self._process is not None and self._conn is not None:  # both set by _start, both cleared here
            try:
                self._conn.send(("stop",))
                self._conn.recv()
            except (OSError, EOFError):
                pass
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._conn.close()
        self._process = self._conn = None

    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _call(self, message):
        assert self._conn is not None  # the callers start the worker first
        try:
            self._conn.send(message)
            status, payload = self._conn.recv()
        except (EOFError, OSError) as exc:
            code = self._process.poll() if self._process is not None else None
            self._process = None
            raise DurableError(f"the durable-rules worker stopped (exit code {code}): {exc}") from exc
        if status == "error":
            raise DurableError(f"durable-rules failed: {payload}")
        return payload

    def _ensure_loaded(self, compiled: CompiledTable):
        if self._process is None or self._process.poll() is not None:
            self._start()
        if compiled.key in self._loaded:
            return
        if len(self._loaded) >= self.worker_loads:
            self._stop()  # durable-rules cannot unload rules: start clean instead of leaking
            self.restarts += 1
            self._start()
        self._call(("load", compiled.key, [list(chunk) for chunk in compiled.chunks]))
        self._loaded.add(compiled.key)

    def __call__(self, table, inputs: list[Column], env, n: int) -> np.ndarray:
        compiled = compile_table(table)
        columns, nulls = [], []
        for kind, col in zip(compiled.kinds, inputs):
            null = col.isnull()
            if kind == "float":
                values = np.where(null, 0.0, col.values.astype(float) if col.is_float else 0.0)
                if not col.is_float:
                    null = np.ones(n, bool)  # a text column compared as numbers: FEEL null
            else:
                values = (
                    np.where(null, "", col.values).astype(object) if not col.is_float else np.full(n, "", dtype=object)
                )
                if col.is_float:
                    null = np.ones(n, bool)
            columns.append(values.tolist())  # plain floats and str: no numpy scalars in the JSON
            nulls.append(null.astype(int).tolist())
        with self._lock:
            self._ensure_loaded(compiled)
            rows, rules, retries = self._call(("match", compiled.key, compiled.kinds, columns, nulls, n))
        self.id_retries = retries
        if (rows < 0).any():
            raise DurableError(f"durable-rules lost the row of a hit in decision {table.name}")
        matrix = np.zeros((len(table.rules), n), dtype=bool)
        matrix[rules, rows] = True
        return matrix
