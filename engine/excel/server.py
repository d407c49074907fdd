"""`kade serve`: the three buttons over HTTP for xlwings' BSD clients.

    POST /xlwings/evaluate | /xlwings/why | /xlwings/check   (xlwings payload in, actions out)
    GET  /health                                              ("ok", for monitoring)

Starlette + uvicorn; no xlwings is imported here (the Python side of xlwings'
own server is xlwings PRO). Every failure answers with plain text, which the
VBA client shows in a message box and Office Scripts shows as the script error.
"""

from __future__ import annotations

import dataclasses
import hmac
import ipaddress
import json
import logging
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from engine import pipeline
from engine.errors import KadeError
from engine.excel import handlers
from engine.excel.errors import PayloadError, ServeError
from engine.excel.protocol import PayloadBook
from engine.excel.rules_source import RulesSource

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_REQUEST_MB = 64  # a 100,000-row sheet is about 30 MB of JSON

log = logging.getLogger("kade.serve")


class _TooLarge(Exception):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def parse_tokens(specs) -> dict[str, str]:
    """``--token`` values, ``NAME=TOKEN`` or a bare ``TOKEN`` (named 'token'), as
    name -> token. Raises ServeError for an empty token or a name used twice."""
    named: dict[str, str] = {}
    for spec in specs:
        name, sep, token = spec.partition("=")
        if not sep:
            name, token = "token", spec
        if not token or not name:
            raise ServeError(f"--token {spec!r}: give NAME=TOKEN or TOKEN, neither empty")
        if name in named:
            raise ServeError(f"--token: the name {name!r} is used twice")
        named[name] = token
    return named


def create_app(
    rules: RulesSource,
    *,
    tokens: dict[str, str] | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_MB << 20,
    cors_origins: tuple[str, ...] = (),
    audit_options: pipeline.AuditOptions = pipeline.NO_AUDIT,
) -> Starlette:
    """The ASGI app. ``tokens`` (name -> token): one must be sent in the
    Authorization header (as the clients' ``auth`` option sends it, bare or as
    'Bearer <token>'); the run is audited under its name. ``cors_origins``: web
    origins allowed to call (Office Scripts runs in the browser and needs one,
    e.g. 'https://*.officescripts.microsoftusercontent.com'); VBA needs none.
    ``audit_options``: where Evaluate presses are recorded (off by default here;
    ``kade serve`` turns it on)."""

    def run(button):
        async def endpoint(request: Request) -> Response:
            caller = _caller(request, tokens)
            if caller is None:
                return PlainTextResponse('kade: missing or wrong token (set auth:="<token>" in RunRemotePython)', 401)
            try:
                payload = _parse_json(await _body(request, max_request_bytes))
            except _TooLarge:
                return PlainTextResponse(
                    f"kade: the workbook is larger than the server's limit of {max_request_bytes >> 20} MB; "
                    "send only the data sheets (include:=...)",
                    413,
                )
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                return PlainTextResponse(_not_json(exc), 400)
            except ValueError as exc:  # NaN / Infinity
                return PlainTextResponse(f"kade: the request is not JSON ({exc})", 400)
            except RecursionError:
                return PlainTextResponse("kade: the request is not a workbook: its JSON is nested too deeply", 400)
            try:
                book = PayloadBook(payload, active_worksheet=_active_worksheet(request))
                body = await run_in_threadpool(button, book, caller)
            except KadeError as exc:  # the user's data or rules: say what to fix
                return PlainTextResponse(f"kade: {exc}", 400)
            except Exception as exc:
                log.exception("kade serve failed on %s", request.url.path)
                return PlainTextResponse(
                    f"kade failed ({type(exc).__name__}: {exc}); the server log has the details", 500
                )
            return Response(
                json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
                media_type="application/json",
            )

        return endpoint

    def evaluate(book: PayloadBook, caller: str):
        pipeline.evaluate_book(book, rules.load(), audit_options=dataclasses.replace(audit_options, user=caller))
        return book.response()

    def why(book: PayloadBook, _caller: str):
        handlers.why(book, rules.load())
        return book.response()

    def check_rules(book: PayloadBook, _caller: str):
        handlers.check_rules(book, rules.path)
        return book.response()

    async def health(_request: Request) -> Response:
        try:
            await run_in_threadpool(rules.load)  # notices a rule file saved since the last button press
        except Exception as exc:  # no rules have loaded at all: nothing can be decided
            return PlainTextResponse(f"kade: the rules do not load: {exc}", 503)
        if rules.problem is None:
            return PlainTextResponse("ok")
        since = rules.loaded_at.isoformat(timespec="seconds") if rules.loaded_at else "start"
        return PlainTextResponse(
            f"serving, but the rule files changed and do not load; the rules loaded at {since} are still in use. "
            f"The problem: {rules.problem}"
        )

    async def not_found(request: Request, exc) -> Response:
        return PlainTextResponse(
            f"kade: no such endpoint {request.url.path} (POST to /xlwings/evaluate, /xlwings/why or /xlwings/check)",
            404,
        )

    async def wrong_method(request: Request, exc) -> Response:
        return PlainTextResponse(
            f"kade: {request.url.path} takes POST (the xlwings clients send the workbook that way)", 405
        )

    routes = [
        Route("/xlwings/evaluate", run(evaluate), methods=["POST"]),
        Route("/xlwings/why", run(why), methods=["POST"]),
        Route("/xlwings/check", run(check_rules), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
    ]
    middleware = []
    if cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        patterns = "|".join(re.escape(o).replace(r"\*", "[^/]*") for o in cors_origins)
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origin_regex=f"^({patterns})$",
                allow_methods=["POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    # a reply is mostly reasons, which repeat: gzip makes 5,000 rows' 7.8 MB about 0.3 MB for the
    # clients that ask (Office Scripts' fetch does; the VBA client's WinHttp does not, and gets JSON)
    middleware.append(Middleware(GZipMiddleware, minimum_size=4096, compresslevel=5))
    return Starlette(routes=routes, middleware=middleware, exception_handlers={404: not_found, 405: wrong_method})


def _caller(request: Request, tokens: dict[str, str] | None) -> str | None:
    """Who sent the request: the name of the token it carries; with no tokens
    configured, the client's address. None: a token is required and none matches."""
    if not tokens:
        return request.client.host if request.client else "unknown"
    header = request.headers.get("authorization", "")
    sent = (header[len("Bearer ") :] if header.startswith("Bearer ") else header).encode("utf-8")
    found = None
    for name, token in tokens.items():  # compare with every token: the time taken says nothing
        if hmac.compare_digest(sent, token.encode("utf-8")):
            found = name
    return found


def _active_worksheet(request: Request) -> int | None:
    """``?worksheet=N``: the active sheet is the N-th worksheet (1-based, chart
    sheets not counted), as the VBA macros in docs/excel.md send it."""
    given = request.query_params.get("worksheet")
    if given is None:
        return None
    if not given.strip().isdigit() or int(given) < 1:
        raise PayloadError(f"?worksheet={given!r} should be the active worksheet's position, 1 for the first")
    return int(given) - 1


def _not_json(exc: UnicodeDecodeError | json.JSONDecodeError) -> str:
    """The 400 text for a body that is not JSON; a body that ends early says so."""
    if isinstance(exc, UnicodeDecodeError):
        cut = exc.reason == "unexpected end of data"
    else:
        cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(exc.doc.rstrip())
    if cut:
        return (
            "kade: the workbook arrived cut off (the request ends in the middle of its data): the upload stopped "
            "before its end. A proxy limit or the client's timeout? (The VBA client gives up after 30 s: "
            "RunRemotePython's timeout:=, in milliseconds.) Press again, or send fewer sheets (include:=)"
        )
    return f"kade: the request is not JSON ({exc})"


def _parse_json(body: bytes):
    """JSON as the clients send it: no NaN or Infinity (JavaScript sends null)."""

    def refuse(constant: str):
        raise ValueError(f"{constant} is not a JSON value")

    return json.loads(body, parse_constant=refuse)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():  # chunked uploads have no length: count as they come
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def check_binding(host: str, tokens: dict[str, str] | None):
    """A server reachable from other machines decides with the company's rules on
    anyone's request: it must have a token."""
    if not is_loopback(host) and not tokens:
        raise ServeError(
            f"--host {host} is reachable from other machines: give --token (and tell users to send it with auth:=)"
        )


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    tokens: dict[str, str] | None = None,
    rules_path: str | Path | None = None,
    max_request_mb: int = DEFAULT_MAX_REQUEST_MB,
    cors_origins: tuple[str, ...] = (),
    audit_options: pipeline.AuditOptions = pipeline.NO_AUDIT,
    log_level: str = "info",
) -> None:
    """Run until interrupted. Raises ServeError / RuleError before listening."""
    import uvicorn

    check_binding(host, tokens)
    source = RulesSource(rules_path)
    source.load()  # bad rules stop the start, not the first button press
    with pipeline.audit_store(audit_options):  # a bad audit location stops the start
        pass
    app = create_app(
        source,
        tokens=tokens,
        max_request_bytes=max_request_mb << 20,
        cors_origins=tuple(cors_origins),
        audit_options=audit_options,
    )
    uvicorn.run(app, host=host, port=port, log_level=log_level)
