"""Sandbox for untrusted BPMN code (conditions, timers, scripts): RestrictedPython, plus time and size bounds."""

from __future__ import annotations

import ast
import sys
import textwrap
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from types import CodeType, MappingProxyType, ModuleType
from typing import Any, Literal

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.bpmn.sandbox_guards import NEVER_ATTRIBUTES, RUN, SAFE_NAMES, make_builtins
from engine.errors import SandboxError

# Layers: (1) _Checker refuses syntax/names at deploy time; (2) RestrictedPython + _Policy compile every attribute,
# item, write, operator, unpacking, `in`, f-string, lambda and generator expression into guard calls
# (sandbox_guards); (3) __builtins__ holds only SAFE_GLOBALS and the guards; (4) code with loops, comprehensions or
# lambdas runs under a per-thread tracer with a deadline; (5) size limits per operation and per run.
# Not covered in-process: a single C call on crafted data (hash collisions, `==`/hash of deeply shared nested
# tuples/lists) cannot be interrupted; workers need a hard time limit (e.g. Celery time_limit) as the last resort.
#
# What sandboxed code sees besides its variables. There is no print(): output would go nowhere, so it is refused.
SAFE_GLOBALS: Mapping[str, Any] = MappingProxyType(SAFE_NAMES)

FILENAME = "<bpmn-code>"
MAX_SOURCE = 20_000
_SAFE = frozenset(SAFE_NAMES)
_BUILTINS = {mode: MappingProxyType(make_builtins(readonly=mode == "eval")) for mode in ("eval", "exec")}
_DENIED = frozenset({  # Python builtins used in escapes and I/O: refused by name (the rest is just undefined)
    "exec", "eval", "compile", "open", "getattr", "setattr", "delattr", "hasattr", "globals", "locals", "vars",
    "type", "breakpoint", "input", "help", "dir", "print", "printed", "memoryview", "bytearray", "bytes", "object",
    "super", "classmethod", "staticmethod", "property", "exit", "quit", "issubclass",
})
_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow, ast.LShift, ast.RShift, ast.BitOr, ast.BitXor,
              ast.BitAnd, ast.FloorDiv)
_ALLOWED = (
    ast.Module, ast.Expression, ast.Expr, ast.Assign, ast.AugAssign, ast.Delete, ast.If, ast.For, ast.While,
    ast.Break, ast.Continue, ast.Pass, ast.Assert, ast.BoolOp, ast.NamedExpr, ast.BinOp, ast.UnaryOp, ast.Lambda,
    ast.IfExp, ast.Dict, ast.Set, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Compare, ast.Call,
    ast.FormattedValue, ast.JoinedStr, ast.Constant, ast.Attribute, ast.Subscript, ast.Starred, ast.Name, ast.List,
    ast.Tuple, ast.Slice, ast.expr_context, ast.boolop, ast.unaryop, ast.cmpop, ast.comprehension, ast.arguments,
    ast.arg, ast.keyword, *_OPERATORS,
)
_HINTS: dict[type, str] = {
    ast.Import: "import statements are not allowed", ast.ImportFrom: "import statements are not allowed",
    ast.FunctionDef: "def statements are not allowed (use a lambda)", ast.ClassDef: "class statements are not allowed",
    ast.AsyncFunctionDef: "async code is not allowed", ast.Await: "async code is not allowed",
    ast.Try: "try/except is not allowed", ast.TryStar: "try/except is not allowed",
    ast.With: "with statements are not allowed", ast.Global: "global statements are not allowed",
    ast.Nonlocal: "nonlocal statements are not allowed", ast.Yield: "generators (yield) are not allowed",
    ast.YieldFrom: "generators (yield) are not allowed", ast.Raise: "raise is not allowed",
    ast.Return: "return is not allowed (a script simply ends)", ast.AnnAssign: "annotations are not allowed",
    ast.MatMult: "the @ operator is not allowed",
}
_LOOPS = (ast.For, ast.While, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Lambda)
_BINOP_GUARDS = {ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_", ast.Mod: "_mod_",
                 ast.Sub: "_sub_", ast.BitOr: "_or_", ast.BitAnd: "_and_", ast.BitXor: "_xor_"}
_PLAIN = frozenset({bool, int, float, str, type(None), list, dict, tuple, set, datetime, date, timedelta})
_MISSING = object()


class _Checker(ast.NodeVisitor):
    """Deploy-time refusals on the untouched AST, with readable reasons (RestrictedPython re-checks after)."""

    def __init__(self) -> None:
        self.problems: list[tuple[int, str]] = []
        self.line = 1

    def visit(self, node: ast.AST) -> None:
        self.line = getattr(node, "lineno", self.line)
        super().visit(node)

    def refuse(self, reason: str) -> None:
        self.problems.append((self.line, reason))

    def generic_visit(self, node: ast.AST) -> None:
        if isinstance(node, _ALLOWED):
            super().generic_visit(node)
        else:
            self.refuse(_HINTS.get(type(node), f"'{type(node).__name__}' syntax is not allowed"))

    def _check_name(self, name: str | None, what: str) -> None:
        if name and name.startswith("_") and name != "_":
            self.refuse(f"{what} '{name}' is not allowed: names starting with '_' are reserved")
        elif name in _DENIED:
            self.refuse(f"'{name}' is not available in the sandbox")

    def visit_Name(self, node: ast.Name) -> None:
        self._check_name(node.id, "name")

    def visit_arg(self, node: ast.arg) -> None:
        self._check_name(node.arg, "parameter")

    def visit_keyword(self, node: ast.keyword) -> None:
        if node.arg and node.arg.startswith("_"):
            self.refuse(f"keyword argument '{node.arg}' is not allowed: names starting with '_' are reserved")
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr.startswith("_"):
            self.refuse(f"attribute '{node.attr}' is not allowed: names starting with '_' are reserved")
        elif node.attr in ("format", "format_map"):
            self.refuse(f"'.{node.attr}()' is not allowed (it can reach private attributes): use an f-string")
        elif node.attr in NEVER_ATTRIBUTES:
            self.refuse(f"attribute '{node.attr}' is not allowed")
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, bytes):
            self.refuse("bytes literals are not allowed")

    def visit_comprehension(self, node: ast.comprehension) -> None:
        if node.is_async:
            self.refuse("async code is not allowed")
        self.generic_visit(node)


class _FreeNames(ast.NodeVisitor):
    """Names read before any assignment of the code itself, scoped like Python (comprehensions, lambdas)."""

    def __init__(self) -> None:
        self.free: set[str] = set()
        self.scopes: list[set[str]] = [set()]

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Store):
            self.scopes[-1].add(node.id)
        elif not any(node.id in scope for scope in self.scopes):
            self.free.add(node.id)  # a load, or `del x` of a variable that must come from the context

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.visit(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.visit(ast.Name(node.target.id, ast.Load()))
        self.visit(node.target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        for scope in self.scopes:  # `:=` in a comprehension binds in the enclosing scope
            scope.add(node.target.id)

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.visit(node.target)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp,
                       *results: ast.expr) -> None:
        self.visit(node.generators[0].iter)  # evaluated in the enclosing scope
        self.scopes.append(set())
        for index, generator in enumerate(node.generators):
            if index:
                self.visit(generator.iter)
            self.visit(generator.target)
            for condition in generator.ifs:
                self.visit(condition)
        for result in results:
            self.visit(result)
        self.scopes.pop()

    def visit_ListComp(self, node: ast.ListComp) -> None:
        self._comprehension(node, node.elt)

    visit_SetComp = visit_GeneratorExp = visit_ListComp  # noqa: N815

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node, node.key, node.value)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        args = node.args
        for default in [*args.defaults, *args.kw_defaults]:
            if default is not None:
                self.visit(default)
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        self.scopes.append({p.arg for p in params if p is not None})
        self.visit(node.body)
        self.scopes.pop()


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus calls to guards for operators, f-strings, unpacking, `in`, lambdas and
    generator expressions (size bounds, allocation accounting, no use after the run)."""

    def _guard(self, helper: str, where: ast.AST, *args: ast.expr) -> ast.Call:
        call = ast.Call(func=ast.Name(helper, ast.Load()), args=list(args), keywords=[])
        copy_locations(call, where)
        return call

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:  # noqa: N802
        node = self.node_contents_visit(node)
        helper = _BINOP_GUARDS.get(type(node.op))
        return node if helper is None else self._guard(helper, node, node.left, node.right)

    def visit_Starred(self, node: ast.Starred) -> ast.AST:  # noqa: N802
        node = self.node_contents_visit(node)
        if isinstance(node.ctx, ast.Load):  # f(*it), [*it]: C code would unpack `it` whatever its size
            node.value = self._guard("_star_", node.value, node.value)
        return node

    def visit_Dict(self, node: ast.Dict) -> ast.AST:  # noqa: N802
        node = self.node_contents_visit(node)
        node.values = [self._guard("_starstar_", v, v) if k is None else v for k, v in zip(node.keys, node.values,
                                                                                           strict=True)]
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:  # noqa: N802
        node = self.node_contents_visit(node)
        node.comparators = [self._guard("_in_", right, right) if isinstance(op, ast.In | ast.NotIn) else right
                            for op, right in zip(node.ops, node.comparators, strict=True)]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:  # noqa: N802
        node = super().visit_Lambda(node)  # a lambda kept in task data must not run later, outside the time limit
        return self._guard("_lambda_", node, node)

    def visit_GeneratorExp(self, node: ast.GeneratorExp) -> ast.AST:  # noqa: N802
        node = super().visit_GeneratorExp(node)
        return self._guard("_genexp_", node, node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> ast.AST:  # noqa: N802
        node = self.node_contents_visit(node)
        spec = node.format_spec if node.format_spec is not None else ast.Constant(None)
        value = self._guard("_fmt_", node, node.value, ast.Constant(node.conversion), spec)
        new = ast.FormattedValue(value=value, conversion=-1, format_spec=None)
        copy_locations(new, node)
        return new


@dataclass(frozen=True, slots=True)
class _Compiled:
    code: CodeType
    mode: str
    text: str
    names: tuple[str, ...]  # every variable name the code mentions
    context_names: tuple[str, ...]  # ... that may come from (or go back to) the context
    free: frozenset[str]
    traced: bool  # loops, comprehensions or lambdas: run under the time limit


def _where(mode: str, line: int | None) -> str:
    return f"line {line}: " if mode == "exec" and line else ""


@lru_cache(maxsize=4096)
def _compile(source: str, mode: str) -> _Compiled:
    if mode not in ("eval", "exec"):
        raise ValueError(f"mode must be 'eval' or 'exec', not {mode!r}")
    if not isinstance(source, str):
        raise SandboxError(f"code must be text, not {type(source).__name__}")
    text = source.strip() if mode == "eval" else textwrap.dedent(source)
    if len(text) > MAX_SOURCE:
        raise SandboxError(f"code is too long ({len(text):,} > {MAX_SOURCE:,} characters)", expression=source)
    try:
        tree = ast.parse(text, FILENAME, mode)
    except SyntaxError as exc:
        raise SandboxError(f"{_where(mode, exc.lineno)}syntax error: {exc.msg}", expression=source,
                           line=exc.lineno) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise SandboxError(f"the code cannot be read: {exc}", expression=source) from None
    checker, finder = _Checker(), _FreeNames()
    try:
        checker.visit(tree)
        if not checker.problems:
            finder.visit(tree)
            result = (compile_restricted_eval if mode == "eval" else compile_restricted_exec)(
                tree, FILENAME, policy=_Policy)
    except RecursionError:
        raise SandboxError("the code is too deeply nested", expression=source) from None
    except SyntaxError as exc:  # found by the compiler, not the parser: `break` outside a loop...
        raise SandboxError(f"{_where(mode, exc.lineno)}syntax error: {exc.msg}", expression=source,
                           line=exc.lineno) from None
    if checker.problems:
        line, reason = checker.problems[0]
        raise SandboxError(f"{_where(mode, line)}{reason}", expression=source, line=line)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not n.id.startswith("_")}
    traced = any(isinstance(n, _LOOPS) for n in ast.walk(tree))
    if result.errors or result.code is None:
        raise SandboxError(f"refused: {'; '.join(result.errors)}", expression=source)
    return _Compiled(result.code, mode, text, tuple(sorted(names)), tuple(sorted(names - _SAFE)),
                     frozenset(n for n in finder.free - _SAFE if not n.startswith("_")), traced)


class _Timeout(BaseException):
    """Raised by the tracer; a BaseException so that no `except Exception` on the way can swallow it."""


def _run_restricted(code: CodeType, scope: dict[str, Any]) -> Any:
    # The one place sandboxed code runs: bytecode from compile_restricted with _Policy, and a scope whose
    # __builtins__ are the safe names and guards only (never Python's builtins).
    return eval(code, scope)  # noqa: S307


def _run_traced(code: CodeType, scope: dict[str, Any], timeout: float) -> Any:
    """Run under a per-thread tracer that stops the code after `timeout` s (opcode events: `while 1: pass`)."""
    clock = time.perf_counter
    deadline = clock() + timeout

    def local(frame: Any, event: str, arg: Any) -> Any:
        if clock() > deadline:
            raise _Timeout
        return local

    def on_call(frame: Any, event: str, arg: Any) -> Any:
        if clock() > deadline:
            raise _Timeout
        if frame.f_code.co_filename == FILENAME:
            frame.f_trace_opcodes = True
            return local
        return None  # guard code: checked at each call / generator resume only

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        return _run_restricted(code, scope)
    finally:
        sys.settrace(previous)


def _failure(compiled: _Compiled, exc: BaseException, timeout: float) -> SandboxError:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    if compiled.mode == "eval":
        where = f"expression {textwrap.shorten(compiled.text, 200)!r}"
    else:
        lines = compiled.text.splitlines()
        shown = lines[line - 1].strip() if line and line <= len(lines) else ""
        where = f"script line {line} ({shown!r})" if line else "script"
    if isinstance(exc, _Timeout):
        message = f"{where} exceeded the time limit of {timeout:g} s"
    elif isinstance(exc, SandboxError):
        message = f"{where} refused at run time: {exc}"
    else:
        message = f"{type(exc).__name__} in {where}: {exc}"
    return SandboxError(message, expression=compiled.text, line=line if compiled.mode == "exec" else None)


def _run(compiled: _Compiled, scope: dict[str, Any], timeout: float) -> Any:
    if not timeout > 0:
        raise ValueError(f"timeout must be positive, not {timeout!r}")
    saved = RUN.token, RUN.spent  # runs may nest (an extra helper evaluating code)
    RUN.token, RUN.spent = object(), 0
    try:
        if compiled.traced:
            return _run_traced(compiled.code, scope, timeout)
        return _run_restricted(compiled.code, scope)  # no loop, no lambda: nothing that needs a clock
    except _Timeout as exc:
        raise _failure(compiled, exc, timeout) from None
    except Exception as exc:
        raise _failure(compiled, exc, timeout) from exc
    finally:
        RUN.token, RUN.spent = saved


def _scope(compiled: _Compiled, context: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Globals for one run: only the names the code mentions. extra > safe globals > context."""
    scope: dict[str, Any] = {"__builtins__": _BUILTINS[compiled.mode]}  # read-only, never Python's builtins
    if extra:
        for name in compiled.names:
            if name in extra:
                scope[name] = extra[name]
    for name in compiled.context_names:
        if name not in scope and (value := context.get(name, _MISSING)) is not _MISSING:
            scope[name] = value
    return scope


def _is_value(value: Any) -> bool:
    """Plain data: not a function, class, module, generator or iterator."""
    return not (callable(value) or isinstance(value, ModuleType) or hasattr(type(value), "__next__"))


def check(source: str, mode: Literal["eval", "exec"]) -> None:
    """Deploy-time check: raise SandboxError (reason, offending name, line) if the code would be refused."""
    _compile(source, mode)


def evaluate(
    source: str, context: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None, timeout: float = 0.5
) -> Any:
    """Evaluate an expression with task data `context` (read-only) and optional `extra` names on top of the safe
    globals. Lookup order: extra, then safe globals, then context. `timeout` applies to loops/lambdas."""
    compiled = _compile(source, "eval")
    value = _run(compiled, _scope(compiled, context, extra), timeout)
    if type(value) in _PLAIN or _is_value(value):
        return value
    raise SandboxError(f"expression {compiled.text!r} gives a {type(value).__name__}, not a value",
                       expression=compiled.text)


def execute(
    source: str, context: dict[str, Any], *, extra: Mapping[str, Any] | None = None, timeout: float = 0.5
) -> None:
    """Run a script; its top-level assignments update `context` in place (new and changed names written back,
    `del x` removes x) once it succeeds. Safe-global and extra names, and functions/classes/modules/iterators,
    are never written back."""
    compiled = _compile(source, "exec")
    scope = _scope(compiled, context, extra)
    _run(compiled, scope, timeout)
    for name in compiled.context_names:
        if extra and name in extra:
            continue
        if name in scope:
            if _is_value(scope[name]):
                context[name] = scope[name]
        elif name in context:
            del context[name]


def free_names(source: str, mode: Literal["eval", "exec"]) -> set[str]:
    """Names the code reads without assigning them first and that are not safe globals (the context it needs)."""
    return set(_compile(source, mode).free)
