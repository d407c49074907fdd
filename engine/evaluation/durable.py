"""durable-rules as kade's second evaluator: only *matching* is done by its Rete
engine; hit policies, outputs and reasons are shared with the vectorized path
(``evaluate_table(..., matcher=DurableMatcher())``), so the two can be compared
row by row.

durable-rules 2.0.28 is unmaintained and has defects that lose or corrupt results
silently (docs/engines.md, "Safety", lists them). This wrapper avoids each one:

| defect | how it is avoided |
|---|---|
| 1024-session cap, sid hash collisions | one sid per ruleset; each row is asserted then retracted, so one fact is live at a time |
| 32-bit message-id collisions | ids are never reused (a counter); a rejected id (MessageObservedException) is retried with a new id and counted, never dropped |
| segfault in delete_state with host threads | a host without background threads (SyncHost); states are never deleted |
| no rule unload, ~0.5 MB leaked per load | rules run in a worker process that is replaced after WORKER_LOADS rule versions |
| not thread-safe | one lock around the worker; actions attribute hits from the fact itself (c.m) |
| > 15 "$and"/"$or" in one rule (error 113) | each test is compiled to disjoint intervals; a rule with more alternatives is split into several rules |
| > 64 true alpha nodes on its stack (error 303, data-dependent), 256 rules per node | rulesets are filled while the worst-case stack of their network stays within 64 |
| a failed ruleset load half-registered | all rulesets of a table are created in one call, under names never reused |
| not-exists-only rules loop forever | never emitted: every rule has a positive condition |
| action exceptions swallowed | actions only record hits; state['exception'] is checked after every row |
| string/number mix-ups, null semantics | values are typed before posting; a null value is not posted, a flag says it is null (FEEL three-valued logic is compiled, not left to the engine) |
| text compared as raw JSON ('a' > 'a b', escapes) | text is posted as the hex of its UTF-8, which sorts like Python strings |

What it cannot express (comparing two columns, computed input expressions) is
refused by ``compile_table`` (DurableRefusal) naming the cell, the decision, the rule
and why; ``engine.evaluate`` then skips that decision and runs the others.
"""

from __future__ import annotations

import hashlib
import json
import math
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
from engine.errors import EvaluatorError, KadeError
from engine.evaluation.columns import FLOAT_TYPES, Column, literal_value

WORKER_LOADS = 50  # rule versions one worker process loads before it is replaced
COMPILED_TABLES = 64  # compiled tables a matcher keeps (a rules folder has ~15)
DURABLE_VERSION = "2.0.28"
INSTALL_HINT = (
    'install it with: CPPFLAGS="-O2 -DNDEBUG -DPyEval_CallObject=PyObject_CallObject" '
    f"pip install --no-cache-dir --force-reinstall durable-rules=={DURABLE_VERSION}"
)


class DurableUnavailable(KadeError):
    """durable-rules cannot be imported here."""


class DurableRefusal(EvaluatorError):
    """A decision table durable-rules cannot express (found when it is compiled)."""


class DurableError(EvaluatorError):
    """The durable-rules worker failed on a table (crash, unexpected engine error)."""


def availability() -> str | None:
    """None when durable-rules works here, else why not and how to fix it."""
    try:
        import durable.engine  # noqa: F401
    except ImportError as exc:
        return f"durable-rules is not usable on this Python ({exc}); {INSTALL_HINT}"
    return None


# ------------------------------------------------------------ compiling --------
#
# durable-rules' limits, read in the 2.0.28 sources (src/rules/*.c of the sdist) and measured on it:
# - error 113 is ERR_EXPRESSION_LIMIT_EXCEEDED (rules.h). Every "$and" / "$or" of a rule's condition
#   appends two entries (OP_AND or OP_OR, then OP_END) to the rule's expressionSequence, a fixed array
#   of MAX_SEQUENCE_EXPRESSIONS = 32 (rete.h); GET_EXPRESSION / APPEND_EXPRESSION (rete.c) fail when
#   the 32nd entry is written. Comparisons with constants take no entry. Measured: a rule with 15
#   "$and"/"$or" is created, with 16 it gives 113 - whether they hold 2 comparisons or 300.
# - error 303 is ERR_MAX_STACK_SIZE: handleAlpha (events.c) walks a ruleset's alpha network depth
#   first on a stack of MAX_STACK_SIZE = 64 nodes. It pops a node and pushes every child true for the
#   row; a "$or" joins its branches in a new "forward" node, pushed once per true branch. The worst
#   case of a node is (its children - 1) + the worst case of one child. Measured exact: 64 true
#   children of one node work and 65 give 303, also nested (30 children, one of them with 36).
# - BETA_LIST_LENGTH = 256 rules may end at one alpha node, MAX_ACTIONS = 4096 rules per ruleset.
MAX_COMPOUNDS = 15  # "$and"/"$or" per durable-rules rule
STACK_SIZE = 64  # worst-case alpha stack per ruleset
RULES_PER_RULESET = 200  # rules of only '-' all end at the guard node: stay under BETA_LIST_LENGTH
MAX_SPLIT = 512  # durable-rules rules one kade rule may become; a rule needing more is refused
MAX_INPUTS = 120  # 2 properties per input + 3 < 252, durable-rules' row width
MAX_TEXT_BYTES = 32_767  # reduceString (events.c) takes lengths as unsigned short: 65,535 hex digits


@dataclass(frozen=True)
class CompiledTable:
    key: str  # content hash: a new rule version gets a new key (and new rulesets)
    chunks: tuple[tuple[tuple[int, dict], ...], ...]  # per ruleset: (rule index, condition JSON)
    domains: tuple[str | None, ...]  # per input: values posted as 'float', as 'str', or not at all (None)


def _refuse(table, rule, why: str, j: int | None = None) -> NoReturn:
    """Refuse the table, naming the cell of input j (else the rule-id cell)."""
    where = rule.cells[j] if j is not None and j < len(rule.cells) else rule.position
    raise DurableRefusal(f"durable-rules cannot evaluate decision {table.name}, rule {rule.id}: {why}", where)


# Which non-null values a test is true (or false) for: a union of disjoint intervals
# (lo, lo_closed, hi, hi_closed), sorted, None for an unbounded end. Compiling to disjoint
# intervals keeps every "$or" to one true branch and a negation to a handful of intervals.
_ALL: tuple = ((None, False, None, False),)
_EMPTY: tuple = ()


def _low(lo, closed) -> tuple:
    return (0,) if lo is None else (1, lo, 0 if closed else 1)


def _high(hi, closed) -> tuple:
    return (1,) if hi is None else (0, hi, 1 if closed else 0)


def _normal(intervals) -> tuple:
    """Sorted, merged, without empty intervals."""
    out: list = []
    for lo, loc, hi, hic in sorted(intervals, key=lambda iv: _low(iv[0], iv[1])):
        if lo is not None and hi is not None and (lo > hi or (lo == hi and not (loc and hic))):
            continue
        if out:
            plo, ploc, phi, phic = out[-1]
            if phi is None or lo is None or lo < phi or (lo == phi and (phic or loc)):
                top = max((phi, phic), (hi, hic), key=lambda end: _high(*end))
                out[-1] = (plo, ploc, *top)
                continue
        out.append((lo, loc and lo is not None, hi, hic and hi is not None))
    return tuple(out)


def _intersect(a: tuple, b: tuple) -> tuple:
    return _normal(
        (
            *max((x[0], x[1]), (y[0], y[1]), key=lambda end: _low(*end)),
            *min((x[2], x[3]), (y[2], y[3]), key=lambda end: _high(*end)),
        )
        for x in a
        for y in b
    )


def _complement(a: tuple) -> tuple:
    gaps, lo, loc = [], None, False
    for ilo, iloc, ihi, ihic in a:
        if ilo is not None:
            gaps.append((lo, loc, ilo, not iloc))
        if ihi is None:
            return _normal(gaps)
        lo, loc = ihi, not ihic
    return _normal([*gaps, (lo, loc, None, False)])


def _and3(a, b):  # FEEL's three-valued and/or/not over True, False, None (null)
    return False if a is False or b is False else True if a is True and b is True else None


def _or3(a, b):
    return True if a is True or b is True else False if a is False and b is False else None


_COMPARE = {
    "<": (False, False, True, False),
    "<=": (False, False, True, True),
}  # op -> has lo, lo closed, has hi, hi closed
_COMPARE.update({">": (True, False, False, False), ">=": (True, True, False, False)})


def _compare(op: str, endpoint, col_type, table, rule, j) -> tuple:
    """(on null, true for, false for) of `? op endpoint`."""
    if not isinstance(endpoint, feel.Literal):
        _refuse(table, rule, "it compares with another column or an expression", j)
    if endpoint.type is None:  # '= null', '!= null', '< null'
        return {"=": (True, _EMPTY, _ALL), "!=": (False, _ALL, _EMPTY)}.get(op, (None, _EMPTY, _EMPTY))
    if endpoint.type != col_type:  # values of another kind compare as null; null equals only null
        return {"=": False, "!=": True}.get(op), _EMPTY, _EMPTY
    value = literal_value(endpoint.type, endpoint.value)
    if isinstance(value, float) and not math.isfinite(value):
        _refuse(table, rule, f"the number {endpoint.text or value} is too large for durable-rules", j)
    if isinstance(value, str) and len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        _refuse(table, rule, f"a text of more than {MAX_TEXT_BYTES:,} bytes", j)
    if op in ("=", "!="):
        point = ((value, True, value, True),)
        return (False, point, _complement(point)) if op == "=" else (True, _complement(point), point)
    has_lo, lo_closed, has_hi, hi_closed = _COMPARE[op]
    true = ((value if has_lo else None, lo_closed, value if has_hi else None, hi_closed),)
    return None, true, _complement(true)


def _sets(test, col_type, table, rule, j) -> tuple:
    """(on null, true for, false for) of a unary test: True/False/None (FEEL null) on an
    empty cell, and the intervals of non-null values where it is true and where false."""
    if isinstance(test, feel.AnyTest):
        return True, _ALL, _EMPTY
    if isinstance(test, feel.NullTest):
        return True, _EMPTY, _ALL
    if isinstance(test, feel.Compare):
        return _compare(test.op, test.endpoint, col_type, table, rule, j)
    if isinstance(test, feel.Range):
        ln, lt, lf = _compare(">=" if test.low_closed else ">", test.low, col_type, table, rule, j)
        hn, ht, hf = _compare("<=" if test.high_closed else "<", test.high, col_type, table, rule, j)
        return _and3(ln, hn), _intersect(lt, ht), _normal(lf + hf)
    if isinstance(test, feel.AnyOf):
        null, true, false = False, _EMPTY, _ALL
        for sub in test.tests:
            sn, st, sf = _sets(sub, col_type, table, rule, j)
            null, true, false = _or3(null, sn), _normal(true + st), _intersect(false, sf)
        return null, true, false
    if isinstance(test, feel.Not):
        null, true, false = _sets(test.tests, col_type, table, rule, j)
        return (None if null is None else not null), false, true
    _refuse(table, rule, f"unsupported test {test!r}", j)


def _field(j: int) -> str:
    return f"i{j}"  # the value; absent from the row when it is null, so no comparison on it is true


def _null(j: int) -> str:
    return f"n{j}"  # 1 when the value is null, else 0


def _encode(value):
    """Strings as the hex of their UTF-8: durable-rules compares the raw JSON text of the row
    (strncmp against the rule's text, escapes and the closing quote included), so only text
    without escapes whose characters sort above '"' orders like Python's strings."""
    return value.encode("utf-8").hex() if isinstance(value, str) else float(value)


def _alternatives(j: int, null, true: tuple) -> tuple:
    """The disjoint alternatives (each a conjunction of comparisons) of an input's test."""
    alts: list[tuple] = [((_null(j), "=", 1),)] if null is True else []
    for lo, lo_closed, hi, hi_closed in true:
        if lo is not None and lo == hi:
            alts.append(((_field(j), "=", _encode(lo)),))
            continue
        leaves = []
        if lo is not None:
            leaves.append((_field(j), ">=" if lo_closed else ">", _encode(lo)))
        if hi is not None:
            leaves.append((_field(j), "<=" if hi_closed else "<", _encode(hi)))
        alts.append(tuple(leaves) or ((_null(j), "=", 0),))
    return tuple(alts)


_GUARD = ("r", ">=", 0)  # r is the row counter: a positive first condition for every rule
_OPS = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}


def _leaf(leaf) -> dict:
    prop, op, value = leaf
    return {prop: value} if op == "=" else {_OPS[op]: {prop: value}}


def _condition(parts: tuple) -> dict:
    """A durable-rules condition: the guard and, per constrained input, its alternatives."""
    items = [_leaf(_GUARD)]
    for alts in parts:
        if len(alts) == 1:
            items += [_leaf(leaf) for leaf in alts[0]]
        else:
            items.append({"$or": [_leaf(a[0]) if len(a) == 1 else {"$and": [_leaf(x) for x in a]} for a in alts]})
    return items[0] if len(items) == 1 else {"$and": items}


def _compounds(parts: tuple) -> int:
    """The "$and"/"$or" of _condition(parts)."""
    inner = sum(1 + sum(len(a) > 1 for a in alts) for alts in parts if len(alts) > 1)
    return inner + (1 if parts else 0)


class _Node:
    """durable-rules' alpha network as rete.c builds it, to bound its stack (error 303)."""

    __slots__ = ("children", "forwards")

    def __init__(self):
        self.children: dict[tuple, _Node] = {}  # shared by equal (field, op, value) under one parent, as findAlpha does
        self.forwards: list[_Node] = []  # the join node of each "$or" this node ends a branch of

    def child(self, leaf) -> _Node:
        node = self.children.get(leaf)
        if node is None:
            node = self.children[leaf] = _Node()
        return node

    def add(self, parts: tuple):
        node = self.child(_GUARD)
        for alts in parts:
            if len(alts) == 1:
                for leaf in alts[0]:
                    node = node.child(leaf)
                continue
            join = _Node()
            for alt in alts:
                end = node
                for leaf in alt:
                    end = end.child(leaf)
                end.forwards.append(join)
            node = join

    def stack(self, memo: dict | None = None) -> int:
        """Worst-case stack height below this node (every child true, deepest one first)."""
        memo = {} if memo is None else memo
        if id(self) not in memo:
            kids = [*self.children.values(), *self.forwards]
            memo[id(self)] = len(kids) - 1 + max(1, *(k.stack(memo) for k in kids)) if kids else 0
        return memo[id(self)]


def _fits(parts: tuple) -> bool:
    network = _Node()
    network.add(parts)
    return _compounds(parts) <= MAX_COMPOUNDS and network.stack() <= STACK_SIZE


def _split(parts: tuple, table, rule) -> list[tuple]:
    """One kade rule as durable-rules rules within its limits: the alternatives of the input
    with the most are halved until each rule fits (each fits once every input has one)."""
    done, todo = [], [parts]
    while todo:
        current = todo.pop()
        if _fits(current):
            done.append(current)
            if len(done) > MAX_SPLIT:
                _refuse(table, rule, f"its tests need more than {MAX_SPLIT} durable-rules rules")
            continue
        j = max(range(len(current)), key=lambda k: len(current[k]) + sum(len(a) > 1 for a in current[k]))
        alts, half = current[j], len(current[j]) // 2
        todo += [current[:j] + (alts[half:],) + current[j + 1 :], current[:j] + (alts[:half],) + current[j + 1 :]]
    return done


def _domain(col_type) -> str | None:
    return "float" if col_type in FLOAT_TYPES else "str" if col_type == "string" else None


def compile_table(table, types: tuple | None = None) -> CompiledTable:
    """The table as durable-rules rulesets within its limits. ``types``: the type of each input
    column (default: the input clauses' types); a literal of another type compares as null."""
    if len(table.inputs) > MAX_INPUTS:
        raise DurableRefusal(
            f"durable-rules cannot evaluate decision {table.name}: more than {MAX_INPUTS} inputs", table.position
        )
    for clause in table.inputs:
        if not isinstance(clause.expr, feel.Name):
            raise DurableRefusal(
                f"durable-rules cannot evaluate decision {table.name}: input {clause.label!r} is an expression",
                clause.position,
            )
    types = tuple(c.type for c in table.inputs) if types is None else types
    rules: list[tuple[int, tuple]] = []
    for r, rule in enumerate(table.rules):
        inputs: list[tuple] = []
        for j, test in enumerate(rule.inputs):
            if isinstance(test, feel.AnyTest):
                continue
            null, true, _false = _sets(test, types[j], table, rule, j)
            if null is True and true == _ALL:
                continue  # true for every row
            inputs.append(_alternatives(j, null, true))
        if all(inputs):  # else an input's test is true for no row: the rule never matches
            rules += [(r, parts) for parts in _split(tuple(inputs), table, rule)]
    chunks: list[tuple] = []
    current: list = []
    network = _Node()
    for r, parts in rules:
        network.add(parts)
        if current and (len(current) >= RULES_PER_RULESET or network.stack() > STACK_SIZE):
            chunks.append(tuple(current))
            current, network = [], _Node()
            network.add(parts)
        current.append((r, _condition(parts)))
    if current:
        chunks.append(tuple(current))
    domains = tuple(_domain(t) for t in types)
    key = hashlib.sha256(json.dumps([domains, chunks], sort_keys=True).encode()).hexdigest()[:16]
    return CompiledTable(key, tuple(chunks), domains)


def _posted(domain: str, values: np.ndarray, null: np.ndarray, table, clause) -> list:
    """An input's values as the rows posted to durable-rules hold them (null rows: not posted)."""

    def refuse(what: str) -> NoReturn:
        raise DurableRefusal(
            f"durable-rules cannot evaluate decision {table.name}: input {clause.label!r} holds {what}", table.position
        )

    present = values[~null]
    if domain == "float":
        try:
            numbers = np.asarray(present, dtype=float)
        except (TypeError, ValueError):
            refuse("values that are not numbers")
        if not np.isfinite(numbers).all():
            refuse("an infinite number, which JSON cannot carry")
        out = np.zeros(len(values))
        out[~null] = numbers
        return out.tolist()  # plain floats: no numpy scalars in the JSON
    texts = np.full(len(values), "", dtype=object)
    for i, value in zip(np.flatnonzero(~null), present):
        if not isinstance(value, str):
            refuse(f"{value!r}, which is not text")
        if len(value.encode("utf-8")) > MAX_TEXT_BYTES:
            refuse(f"a text of more than {MAX_TEXT_BYTES:,} bytes")
        texts[i] = _encode(value)
    return texts.tolist()


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
    loads = 0

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
                loads += 1  # a name never reused: a load that failed cannot collide with its retry
                names = [f"t{key}_{loads}_{c}" for c in range(len(chunks))]
                # one call: durable-rules creates every ruleset before it registers any, so a
                # ruleset it refuses leaves nothing registered
                host.register_rulesets(
                    {
                        name: {
                            f"R{k}": {"all": [{"m": cond}], "pri": k + 1, "run": action(r)}
                            for k, (r, cond) in enumerate(chunk)
                        }
                        for name, chunk in zip(names, chunks)
                    }
                )
                loaded[key] = names
                conn.send(("ok", None))
            elif kind == "match":
                _, key, columns, nulls, n = message
                hits.clear()
                for i in range(n):
                    fact = {"sid": "kade", "r": i}
                    for j, (values, null) in enumerate(zip(columns, nulls)):
                        fact[f"n{j}"] = null[i]
                        if not null[i] and values is not None:
                            fact[f"i{j}"] = values[i]
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
        self._compiled: dict[tuple, tuple[object, CompiledTable]] = {}  # (id(table), types) -> (table, compiled)

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

    def _compile(self, table, types: tuple) -> CompiledTable:
        """compile_table, once per table object: one-row calls (Why?, kade serve) stay fast."""
        known = self._compiled.get((id(table), types))
        if known is not None and known[0] is table:  # the entry holds the table: its id is not reused
            return known[1]
        compiled = compile_table(table, types)
        if len(self._compiled) >= COMPILED_TABLES:
            self._compiled.clear()
        self._compiled[(id(table), types)] = (table, compiled)
        return compiled

    def __call__(self, table, inputs: list[Column], env, n: int) -> np.ndarray:
        compiled = self._compile(table, tuple(col.type for col in inputs))
        columns, nulls = [], []
        for clause, domain, col in zip(table.inputs, compiled.domains, inputs):
            null = col.isnull()
            columns.append(None if domain is None else _posted(domain, col.values, null, table, clause))
            nulls.append(null.astype(int).tolist())
        try:
            with self._lock:
                self._ensure_loaded(compiled)
                rows, rules, retries = self._call(("match", compiled.key, columns, nulls, n))
        except DurableError as exc:
            raise DurableError(f"decision {table.name}: {exc.message}", table.position) from exc
        self.id_retries = retries
        if (rows < 0).any():
            raise DurableError(f"durable-rules lost the row of a hit in decision {table.name}")
        matrix = np.zeros((len(table.rules), n), dtype=bool)
        matrix[rules, rows] = True
        return matrix
