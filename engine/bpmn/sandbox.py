"""Sandbox for untrusted BPMN code (conditions, timer expressions, scripts): RestrictedPython + limits."""

from __future__ import annotations

import ast
import sys
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import full_write_guard, guarded_iter_unpack_sequence, safer_getattr

from engine.errors import SandboxError

Mode = Literal["eval", "exec"]
PARIS = ZoneInfo("Europe/Paris")


def parse_date(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=PARIS)


def days_between(a: datetime | date, b: datetime | date) -> int:
    return (b - a).days


_BUILTINS = dict(safe_builtins)
for _name in ("min", "max", "sum", "sorted", "any", "all", "list", "dict", "enumerate", "range", "zip", "set"):
    _BUILTINS[_name] = __builtins__[_name] if isinstance(__builtins__, dict) else getattr(__builtins__, _name)

SAFE_GLOBALS: Mapping[str, Any] = {
    "datetime": datetime, "date": date, "timedelta": timedelta, "parse_date": parse_date,
    "days_between": days_between,
}


def _inplacevar(op: str, x: Any, y: Any) -> Any:
    ops = {"+=": lambda: x + y, "-=": lambda: x - y, "*=": lambda: x * y, "/=": lambda: x / y}
    if op not in ops:
        raise SandboxError(f"operator {op} is not allowed")
    return ops[op]()


@lru_cache(maxsize=4096)
def _compile(source: str, mode: Mode) -> CodeType:
    try:
        tree = ast.parse(source, mode=mode)
    except SyntaxError as exc:
        raise SandboxError(f"syntax error on line {exc.lineno}: {exc.msg}", expression=source,
                           line=exc.lineno) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            raise SandboxError(f"line {node.lineno}: imports are not allowed in pathway code", expression=source,
                               line=node.lineno)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            raise SandboxError(f"line {node.lineno}: defining functions or classes is not allowed",
                               expression=source, line=node.lineno)
    result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(source, "<bpmn>")
    if result.errors or result.code is None:
        raise SandboxError("refused: " + "; ".join(result.errors), expression=source)
    return result.code


def check(source: str, mode: Mode) -> None:
    """Refuse code that may not run (syntax, imports, names starting with '_', forbidden builtins)."""
    _compile(source, mode)


def _globals(context: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    env: dict[str, Any] = {"__builtins__": _BUILTINS, "_getattr_": safer_getattr,
                           "_getitem_": default_guarded_getitem, "_getiter_": default_guarded_getiter,
                           "_iter_unpack_sequence_": guarded_iter_unpack_sequence, "_write_": full_write_guard,
                           "_inplacevar_": _inplacevar}
    env.update(SAFE_GLOBALS)
    env.update(extra or {})
    env.update(context)
    return env


def _run(code: CodeType, env: dict[str, Any], source: str, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    previous = sys.gettrace()

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise SandboxError(f"'{source}' exceeded the time limit of {timeout} s", expression=source)
        return tracer

    sys.settrace(tracer)
    try:
        return eval(code, env)  # noqa: S307 - RestrictedPython bytecode with guards
    except SandboxError:
        raise
    except Exception as exc:
        raise SandboxError(f"'{source}' failed: {type(exc).__name__}: {exc}", expression=source) from exc
    finally:
        sys.settrace(previous)


def evaluate(source: str, context: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None,
             timeout: float = 0.5) -> Any:
    """Evaluate an expression over task data (read-only)."""
    return _run(_compile(source.strip(), "eval"), _globals(context, extra), source, timeout)


def execute(source: str, context: dict[str, Any], *, extra: Mapping[str, Any] | None = None,
            timeout: float = 0.5) -> None:
    """Run a script; top-level assignments are written back into ``context``."""
    env = _globals(context, extra)
    before = set(env)
    _run(_compile(source, "exec"), env, source, timeout)
    reserved = set(SAFE_GLOBALS) | set(extra or {}) | {"__builtins__"}
    for name, value in env.items():
        if name in reserved or name.startswith("_") or callable(value):
            continue
        context[name] = value
    for name in list(context):
        if name in before and name not in env:
            del context[name]


def free_names(source: str, mode: Mode) -> set[str]:
    """Names read but not assigned by the code, other than the safe globals and builtins."""
    tree = ast.parse(source, mode=mode)
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    stored = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    return loaded - stored - set(SAFE_GLOBALS) - set(_BUILTINS)
