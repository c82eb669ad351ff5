"""Tests of the BPMN sandbox: escapes refused at check time and at run time, bounds, and everyday clinical code."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from engine.bpmn import sandbox, sandbox_guards
from engine.bpmn.sandbox import SAFE_GLOBALS, check, evaluate, execute, free_names
from engine.errors import EngineError, SandboxError

PARIS = ZoneInfo("Europe/Paris")
SURGERY = datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)

# ---------------------------------------------------------------- classic escapes

ESCAPES = [
    "().__class__.__base__.__subclasses__()",
    "__import__('os')",
    "open('/etc/passwd')",
    "getattr(1, '__class__')",
    "'{0.__class__}'.format(1)",
    "'{x}'.format_map({'x': 1})",
    "type(1)",
    "globals()",
    "locals()",
    "vars()",
    "eval('1')",
    "exec('x = 1')",
    "compile('1', 'f', 'eval')",
    "breakpoint()",
    "input()",
    "help()",
    "print('x')",
    "(lambda: 1).__globals__",
    "datetime.__subclasses__",
    "datetime.__subclasses__()",
    "(x for x in []).gi_frame",
    "(x for x in []).gi_frame.f_globals",
    "(x for x in []).gi_code",
    "dt.__class__",
    "[c for c in ().__class__.__mro__]",
    "datetime.mro()",
    "f'{dt.__class__}'",
    "__builtins__",
    "dt.__reduce_ex__(2)",
]
SCRIPT_ESCAPES = [
    "import os",
    "from os import path",
    "def f():\n    return 1",
    "class A:\n    pass",
    "try:\n    x = 1\nexcept:\n    pass",
    "with x:\n    pass",
    "global y\ny = 1",
    "_hidden = 1",
    "x: int = 1",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_check_refuses_escape_when_expression_reaches_for_internals(source: str) -> None:
    with pytest.raises(SandboxError):
        check(source, "eval")


@pytest.mark.parametrize("source", ESCAPES)
def test_evaluate_refuses_escape_when_expression_reaches_for_internals(source: str) -> None:
    with pytest.raises(SandboxError) as info:
        evaluate(source, {"dt": SURGERY})
    assert info.value.expression


@pytest.mark.parametrize("source", ESCAPES)
def test_execute_refuses_escape_and_leaves_context_alone_when_script_reaches_for_internals(source: str) -> None:
    context = {"dt": SURGERY, "n": 1}
    with pytest.raises(SandboxError):
        execute(f"n = 2\nresult = {source}", context)
    assert context == {"dt": SURGERY, "n": 1}


def _run_without_static_checks(source: str, context: dict[str, object]) -> object:
    """Transform with the sandbox policy but ignore its compile-time refusals: only the run-time guards remain."""
    tree = sandbox._Policy(errors=[], warnings=[], used_names={}).visit(ast.parse(source, sandbox.FILENAME, "eval"))
    code = compile(ast.fix_missing_locations(tree), sandbox.FILENAME, "eval")
    return sandbox._run_restricted(code, {"__builtins__": sandbox._BUILTINS["eval"], **context})


@pytest.mark.parametrize("source", [e for e in ESCAPES if e != "__builtins__"])
def test_runtime_layer_alone_refuses_escape_when_static_checks_are_skipped(source: str) -> None:
    with pytest.raises((SandboxError, NameError)):
        _run_without_static_checks(source, {"dt": SURGERY})


def test_runtime_builtins_are_read_only_when_code_reaches_them() -> None:
    reached = _run_without_static_checks("__builtins__", {})
    assert "open" not in reached and "__import__" not in reached  # type: ignore[operator]
    with pytest.raises(TypeError):
        reached["_getattr_"] = getattr  # type: ignore[index]


@pytest.mark.parametrize("source", SCRIPT_ESCAPES)
def test_check_and_execute_refuse_statement_when_script_uses_forbidden_syntax(source: str) -> None:
    with pytest.raises(SandboxError):
        check(source, "exec")
    with pytest.raises(SandboxError):
        execute(source, {"x": 1})


def _generator() -> object:
    return (x for x in [])


RUNTIME_ATTRIBUTE_ESCAPES = [
    ((), "__class__"),
    (1, "__class__"),
    ("{0.__class__}", "format"),
    ("{x}", "format_map"),
    (SURGERY, "__class__"),
    (datetime, "__subclasses__"),
    (datetime, "mro"),
    (int, "mro"),
    (lambda: 1, "__globals__"),
    (_generator(), "gi_frame"),
    (_generator(), "gi_code"),
    (sys._getframe(), "f_globals"),
    (sys._getframe(), "f_back"),
    (sandbox_guards, "SandboxError"),
    ({}.keys(), "mapping"),
    ({}, "fromkeys"),
    ("abc", "translate"),
    ("abc", "encode"),
    (len, "__self__"),
    (print, "__self__"),
    (datetime, "now"),
    (SURGERY.tzinfo, "from_file"),
    (SURGERY.tzinfo, "clear_cache"),
]


@pytest.mark.parametrize(("obj", "name"), RUNTIME_ATTRIBUTE_ESCAPES)
def test_runtime_attribute_guard_refuses_when_attribute_is_private_or_not_whitelisted(obj: object, name: str) -> None:
    # The run-time layer on its own: what compiled code calls for `obj.name`, whatever check() said.
    for guard in (sandbox_guards.guarded_getattr_rw, sandbox_guards.guarded_getattr_ro):
        with pytest.raises(SandboxError):
            guard(obj, name)


def test_runtime_guards_refuse_when_attribute_exists_but_is_not_allowed_on_context_values() -> None:
    # Statically harmless names, refused at run time by the attribute whitelist.
    for source, context in [
        ("d.fromkeys(range(10))", {"d": {}}),
        ("s.translate({97: 'b'})", {"s": "a"}),
        ("f.gi_running", {"f": _generator()}),
        ("r.count(1.5)", {"r": range(10)}),
        ("d.keys().mapping", {"d": {"a": 1}}),
        ("dt.timetuple()", {"dt": SURGERY}),
    ]:
        with pytest.raises(SandboxError, match="refused at run time"):
            evaluate(source, context)


def test_runtime_guards_refuse_when_subscripting_or_writing_a_class() -> None:
    with pytest.raises(SandboxError):
        sandbox_guards.guarded_getitem(enumerate, int)
    with pytest.raises(SandboxError, match="cannot be modified"):
        execute("dt.year = 2000", {"dt": SURGERY})
    with pytest.raises(SandboxError):
        execute("datetime.min = 1", {})
    with pytest.raises(SandboxError):
        sandbox_guards.guarded_write_ro({})


def test_guards_cannot_be_overridden_when_context_or_extra_use_guard_names() -> None:
    hostile = {"_getattr_": getattr, "_getitem_": lambda o, k: o, "__builtins__": __builtins__}
    with pytest.raises(SandboxError, match="fromkeys"):
        evaluate("d.fromkeys([1])", {"d": {}, **hostile}, extra=hostile)
    context = {"d": {}, **hostile}
    with pytest.raises(SandboxError, match="fromkeys"):
        execute("x = d.fromkeys([1])", context, extra=hostile)


def test_evaluate_refuses_when_expression_tries_to_modify_task_data() -> None:
    context = {"items": [1, 2], "d": {"a": 1}}
    for source in ["items.append(3)", "items.sort()", "d.update(b=2)", "d.pop('a')", "d.clear()", "items.extend([1])"]:
        with pytest.raises(SandboxError, match="read-only"):
            evaluate(source, context)
    assert context == {"items": [1, 2], "d": {"a": 1}}


def test_evaluate_does_not_write_context_when_expression_uses_walrus() -> None:
    context = {"a": 1}
    assert evaluate("(b := a + 1) * 2", context) == 4
    assert context == {"a": 1}


def test_evaluate_refuses_when_expression_gives_a_generator_or_function() -> None:
    for source in ["(x for x in items)", "lambda: 1", "zip(items, items)", "enumerate(items)", "len"]:
        with pytest.raises(SandboxError, match="not a value"):
            evaluate(source, {"items": [1, 2]})


def test_check_reports_line_and_name_when_script_is_refused() -> None:
    with pytest.raises(SandboxError) as info:
        check("a = 1\nb = open('x')\n", "exec")
    assert info.value.line == 2
    assert "line 2" in str(info.value)
    assert "'open'" in str(info.value)
    with pytest.raises(SandboxError, match="__class__"):
        check("x.__class__", "eval")
    with pytest.raises(SandboxError, match="syntax error"):
        check("douleur_nrs >= ", "eval")
    with pytest.raises(SandboxError, match="import"):
        check("import os", "exec")
    with pytest.raises(SandboxError, match="def statements"):
        check("def f(x):\n    return x", "exec")


def test_check_refuses_cleanly_when_compiler_rejects_the_code() -> None:
    for source, mode in [("break", "exec"), ("[x async for x in y]", "eval"), ("", "eval"), ("x =", "exec")]:
        with pytest.raises(SandboxError, match="syntax error|async"):
            check(source, mode)  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="code must be text"):
        check(None, "eval")  # type: ignore[arg-type]


def test_check_accepts_code_when_lambdas_loops_and_comprehensions_are_used() -> None:
    check("sorted(items, key=lambda i: i['date'])", "eval")
    check("n = 0\nwhile n < 10:\n    n += 1\nfor i in range(3):\n    n += i", "exec")
    check("{k: v for k, v in d.items() if v}", "eval")


# ---------------------------------------------------------------- time bound


def test_execute_stops_when_script_loops_forever() -> None:
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="exceeded the time limit of 0.2 s") as info:
        execute("n = 0\nwhile True: pass", {}, timeout=0.2)
    elapsed = time.perf_counter() - started
    print(f"\nwhile True stopped after {elapsed:.3f} s")
    assert elapsed < 5  # "about" the timeout; generous for slow CI machines
    assert info.value.line == 2
    assert info.value.__cause__ is None


def test_execute_stops_when_for_loop_is_huge() -> None:
    with pytest.raises(SandboxError, match="time limit"):
        execute("n = 0\nfor i in range(10**9):\n    n += 1", {}, timeout=0.2)


def test_evaluate_stops_when_comprehension_or_recursion_is_endless() -> None:
    with pytest.raises(SandboxError, match="time limit"):
        evaluate("sum(x for x in range(10**12))", {}, timeout=0.2)
    with pytest.raises(SandboxError, match="time limit"):
        execute("f = lambda n: 1 if n == 0 else f(n - 1) + f(n - 1)\nr = f(60)", {}, timeout=0.2)


def test_timeout_is_refused_when_not_positive() -> None:
    with pytest.raises(ValueError):
        evaluate("1", {}, timeout=0)


def test_execute_reports_recursion_when_lambda_recurses_forever() -> None:
    with pytest.raises(SandboxError, match="RecursionError"):
        execute("f = lambda n: f(n + 1)\nf(0)", {}, timeout=5)


def test_execute_stops_when_loop_runs_in_another_thread() -> None:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            execute("while True:\n    pass", {}, timeout=0.2)
        except SandboxError as exc:
            errors.append(exc)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(errors) == 1 and "time limit" in str(errors[0])


def test_previous_trace_function_is_restored_when_sandbox_ran_traced_code() -> None:
    def tracer(frame: object, event: str, arg: object) -> None:
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        execute("n = 0\nfor i in range(3):\n    n += i", {})
        assert sys.gettrace() is tracer
        with pytest.raises(SandboxError):
            execute("while True: pass", {}, timeout=0.05)
        assert sys.gettrace() is tracer
    finally:
        sys.settrace(previous)


# ---------------------------------------------------------------- size bounds


@pytest.mark.parametrize("source", [
    "'a' * 10**9",
    "10**9 * 'a'",
    "[0] * 10**9",
    "[[0] * 1000] * 50000",
    "2 ** 10**10",
    "10 ** 5000",
    "1 << 10**9",
    "(10**3000) * (10**3000)",
    "list(range(10**9))",
    "tuple(range(10**9))",
    "set(range(10**9))",
    "sorted(range(10**9))",
    "sum(range(10**12))",
    "max(range(10**12))",
    "all(range(1, 10**12))",
    "dict(zip(range(10**12), range(10**12)))",
    "list(enumerate(range(10**12)))",
    "[*range(10**9)]",
    "max(*range(10**9))",
    "'a' in range(10**12)",
    "'x' in zip(range(10**12))",
    "s.ljust(10**9)",
    "s.center(10**9)",
    "s.zfill(10**9)",
    "(s * 1000).replace('a', s * 1000)",
    "(s + '\\t').expandtabs(10**9)",
    "','.join([s * 1000] * 10000)",
    "str([s * 1000] * 10000)",
    "f'{[s * 1000] * 10000}'",
    "f'{1:>1000000000}'",
    "f'{1.5:.100000000f}'",
    "'%1000000000d' % 1",
    "'%*d' % (10**9, 1)",
    "'%s' % ([s * 1000] * 10000,)",
    "round(1, -10**9)",
    "sum([[1]] * 1000, [])",
    "dt.strftime('%1000000000Y')",
])
def test_evaluate_refuses_quickly_when_result_would_be_huge(source: str) -> None:
    started = time.perf_counter()
    with pytest.raises(SandboxError, match="refused at run time|too big|not allowed|more than"):
        evaluate(source, {"s": "a" * 100, "dt": SURGERY}, timeout=5)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("source", [
    "x = 'a' * 100000\nwhile True:\n    x = x + x",
    "x = 'a' * 100000\nwhile True:\n    x += x",
    "x = [0] * 100000\nwhile True:\n    x.extend(x)",
    "x = [0] * 100000\nwhile True:\n    x += x",
    "x = [0]\nx *= 10**9",
    "n = 2\nn **= 10**9",
    "n = 1\nn <<= 10**9",
    "x = []\nx.extend(range(10**9))",
    "x = []\nx += range(10**9)",
    "x = [1]\nx[:] = range(10**9)",
    "a, b = range(10**9)",
    "for a, b in [range(10**9)]:\n    pass",
    "s = set()\ns.update(range(10**9))",
    "d = {}\nd.update(zip(range(10**12), range(10**12)))",
    "l = []\nwhile True:\n    l.append('x' * 100000)",
    "l = []\nbig = [0] * 100000\nwhile True:\n    l.append(big[:])",
    "l = []\nt = 'a' * 100000\nwhile True:\n    l.append(t.upper())",
    "l = []\nd = dict(zip(range(100000), range(100000)))\nwhile True:\n    l.append(d | d)",
    "l = []\nd = dict(zip(range(100000), range(100000)))\nwhile True:\n    l.append({**d})",
    "l = []\nbig = [0] * 100000\nwhile True:\n    l.append([*big])",
])
def test_execute_refuses_when_script_grows_values_without_bound(source: str) -> None:
    context: dict[str, object] = {}
    started = time.perf_counter()
    with pytest.raises(SandboxError):
        execute(source, context, timeout=2)
    assert time.perf_counter() - started < 10
    assert context == {}


def test_execute_refuses_when_loop_keeps_allocating_within_the_time_limit() -> None:
    with pytest.raises(SandboxError, match="in one run"):
        execute("l = []\nwhile True:\n    l.append('x' * 100000)", {}, timeout=30)


def test_check_refuses_cleanly_when_code_is_too_deeply_nested() -> None:
    for source in ["-" * 400 + "1", "1" + "+1" * 3000, "x" + "[0]" * 2000, "lambda: " * 500 + "1"]:
        with pytest.raises(SandboxError):
            check(source, "eval")


def test_lambda_kept_in_task_data_is_refused_when_called_by_later_code() -> None:
    context: dict[str, object] = {"fs": []}
    execute("fs.append(lambda: sum(x for x in range(10**12)))\nf = lambda: 1\nok = f()", context)
    assert context["ok"] == 1 and "f" not in context and len(context["fs"]) == 1  # type: ignore[arg-type]
    with pytest.raises(SandboxError, match="only be called while that code runs"):
        evaluate("fs[0]()", context)
    with pytest.raises(SandboxError, match="only be called while that code runs"):
        context["fs"][0]()  # type: ignore[index]


def test_generator_kept_in_task_data_is_refused_when_resumed_by_later_code() -> None:
    context: dict[str, object] = {"gs": []}
    execute("for i in range(2):\n    gs.append(x for x in range(10**12) if x < 0)", context)
    with pytest.raises(SandboxError, match="only be used while that code runs"):
        evaluate("list(gs[0])", context)
    with pytest.raises(SandboxError, match="only be used while that code runs"):
        next(context["gs"][1])  # type: ignore[index]


def test_bounds_allow_ordinary_sizes_when_values_are_reasonable() -> None:
    assert evaluate("len('-' * 80 + 'x' * 1000)", {}) == 1080
    assert evaluate("len([0] * 100000)", {}) == 100000
    assert evaluate("2 ** 64", {}) == 18446744073709551616
    assert evaluate("sum(range(1000))", {}) == 499500
    assert evaluate("999 in range(10**12)", {}) is True
    assert evaluate("5.0 in range(10**12)", {}) is True
    assert evaluate("1.5 in range(10**12)", {}) is False
    assert evaluate("f'{poids:.1f} kg / {n:>5}'", {"poids": 81.25, "n": 3}) == "81.2 kg /     3"
    assert evaluate("'%s: %.1f' % ('poids', 81.25)", {}) == "poids: 81.2"
    assert evaluate("', '.join(['a', 'b'])", {}) == "a, b"
    assert evaluate("round(3.14159, 2)", {}) == 3.14
    assert evaluate("dt.strftime('%d/%m/%Y')", {"dt": SURGERY}) == "02/03/2026"
    assert evaluate("3 in (x * 2 for x in range(5))", {}) is False
    assert evaluate("isinstance(x, list) and isinstance(y, (str, dict))", {"x": [1], "y": "a"}) is True


# ---------------------------------------------------------------- everyday clinical code


def test_evaluate_compares_when_condition_is_a_threshold() -> None:
    assert evaluate("douleur_nrs >= 7", {"douleur_nrs": 8}) is True
    assert evaluate("douleur_nrs >= 7", {"douleur_nrs": 3}) is False
    assert evaluate("hba1c > cible_hba1c and not alerte", {"hba1c": 7.4, "cible_hba1c": 7.0, "alerte": False})
    assert evaluate("  patient_joint == 'oui'\n", {"patient_joint": "oui"}) is True


def test_evaluate_gives_aware_datetime_when_timer_adds_delay_to_anchor() -> None:
    value = evaluate("date_chirurgie + timedelta(days=1, hours=10)", {"date_chirurgie": SURGERY})
    assert value == SURGERY + timedelta(days=1, hours=10)
    assert value.tzinfo is not None
    assert evaluate('"P3M"', {}) == "P3M"
    context = {"date_chirurgie": SURGERY, "delais": [14, 42], "n": 2}
    assert evaluate("date_chirurgie + timedelta(days=delais[n - 1] - 7, hours=9)", context) == SURGERY + timedelta(
        days=35, hours=9)


def test_evaluate_allows_method_calls_when_they_are_ordinary() -> None:
    context = {"dt": SURGERY, "s": "Oui ", "x": {"k": 2}, "items": [3, 1, 2]}
    assert evaluate("dt.date()", context) == date(2026, 3, 2)
    assert evaluate("s.strip().upper()", context) == "OUI"
    assert evaluate("x.get('k', 0) + x.get('z', 0)", context) == 2
    assert evaluate("dt.replace(hour=10).hour", context) == 10
    assert evaluate("dt.weekday()", context) == 0
    assert evaluate("dt.isoformat()", context) == "2026-03-02T08:00:00+01:00"
    assert evaluate("dt.tzinfo.key", context) == "Europe/Paris"
    assert evaluate("sorted(items, reverse=True)[0]", context) == 3
    assert evaluate("min(items) + max(items, key=lambda i: -i)", context) == 2
    assert evaluate("[i * 2 for i in items if i > 1]", context) == [6, 4]
    assert evaluate("{k: v for k, v in x.items()}", context) == {"k": 2}
    assert evaluate("datetime.fromisoformat('2026-03-02').date()", context) == date(2026, 3, 2)
    assert evaluate("datetime.strptime('02/03/2026', '%d/%m/%Y').month", context) == 3
    assert evaluate("dt.isocalendar().week + dt.isoweekday()", context) == 11
    assert evaluate("abs(-2) + len(items) + int('3') + float('0.5')", context) == 8.5


def test_execute_updates_context_when_script_assigns_and_deletes() -> None:
    context = {"trimestre": 1, "poids": 80.5, "poids_reference": 78.0, "tmp": "x", "autre": 1}
    execute("trimestre = trimestre + 1\nalerte = poids - poids_reference >= 2.0\ndel tmp", context)
    assert context == {"trimestre": 2, "poids": 80.5, "poids_reference": 78.0, "alerte": True, "autre": 1}


def test_execute_supports_common_statements_when_script_is_ordinary() -> None:
    context = {"mesures": [{"poids": 80.0}, {"poids": 82.5}], "d": {"a": 1}, "l": [1, 2]}
    execute(
        "n = 0\n"
        "n += 1\n"
        "a, b = 1, 2\n"
        "a, b = b, a\n"
        "(c, (e, f)), *rest = (1, (2, 3)), 4, 5\n"
        "poids = [m['poids'] for m in mesures]\n"
        "moyenne = sum(poids) / len(poids)\n"
        "message = f'{len(poids)} mesures, moyenne {moyenne:.1f} kg'\n"
        "d['b'] = 2\n"
        "del d['a']\n"
        "l.append(3)\n"
        "l[0] = 0\n"
        "for i, p in enumerate(poids):\n"
        "    n += i\n"
        "k = 0\n"
        "while k < 5:\n"
        "    k += 1\n"
        "if moyenne > 80:\n"
        "    alerte = True\n"
        "else:\n"
        "    alerte = False\n"
        "trie = sorted(mesures, key=lambda m: -m['poids'])[0]['poids']\n"
        "for _ in range(2):\n"
        "    pass\n",
        context,
    )
    assert context["n"] == 2 and (context["a"], context["b"]) == (2, 1)
    assert (context["c"], context["e"], context["f"], context["rest"]) == (1, 2, 3, [4, 5])
    assert context["message"] == "2 mesures, moyenne 81.2 kg"
    assert context["d"] == {"b": 2} and context["l"] == [0, 2, 3]
    assert context["k"] == 5 and context["alerte"] is True and context["trie"] == 82.5
    assert "_" not in context and "i" in context


def test_execute_does_not_write_back_when_names_are_functions_safe_globals_or_extra() -> None:
    context = {"x": 1, "min": "donnée"}
    execute("f = lambda v: v + 1\ny = f(x)\nmax = 3\nhelper = 5\nz = zip([1], [2])\ng = len", context,
            extra={"helper": 1})
    assert context == {"x": 1, "min": "donnée", "y": 2}


def test_execute_leaves_context_unchanged_when_script_fails() -> None:
    context = {"n": 1}
    with pytest.raises(SandboxError):
        execute("n = 2\nm = 1 / 0", context)
    assert context == {"n": 1}


def test_extra_names_are_visible_when_given() -> None:
    assert evaluate("dmninputexpr < 5", {"dmninputexpr": 9}, extra={"dmninputexpr": 3}) is True
    assert evaluate("len(x)", {}, extra={"len": lambda v: 42, "x": []}) == 42
    assert evaluate("date(2026, 1, 1)", {"date": "donnée"}) == date(2026, 1, 1)  # safe global wins over context...
    with pytest.raises(SandboxError):
        evaluate("date + 1", {"date": 1})  # ... so `date` is the class here


def test_parse_date_and_days_between_when_given_iso_text() -> None:
    assert evaluate("parse_date('2026-03-02T08:00:00')", {}) == SURGERY
    assert evaluate("parse_date('2026-03-02')", {}).tzinfo is not None
    assert evaluate("parse_date('2026-03-02T07:00:00Z')", {}) == SURGERY
    assert evaluate("parse_date('2026-03-02T07:00:00Z')", {}).utcoffset() == timedelta(0)
    assert evaluate("days_between('2026-03-01', date_chirurgie)", {"date_chirurgie": SURGERY}) == 1
    assert evaluate("days_between(date(2026, 3, 10), date(2026, 3, 1))", {}) == -9
    late = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 2 March in Paris
    assert evaluate("days_between(a, b)", {"a": late, "b": SURGERY}) == 0
    with pytest.raises(SandboxError, match="ValueError"):
        evaluate("parse_date('not a date')", {})


# ---------------------------------------------------------------- errors


def test_evaluate_reports_name_and_expression_when_variable_is_missing() -> None:
    with pytest.raises(SandboxError) as info:
        evaluate("douleur_nrs >= 7", {})
    message = str(info.value)
    assert "name 'douleur_nrs' is not defined" in message and "douleur_nrs >= 7" in message
    assert isinstance(info.value.__cause__, NameError)
    assert info.value.expression == "douleur_nrs >= 7"
    assert isinstance(info.value, EngineError)


def test_execute_reports_line_when_script_fails_at_run_time() -> None:
    with pytest.raises(SandboxError) as info:
        execute("a = 1\nb = a / zero\nc = 3", {"zero": 0})
    assert info.value.line == 2
    assert "ZeroDivisionError" in str(info.value) and "line 2" in str(info.value) and "a / zero" in str(info.value)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    with pytest.raises(SandboxError, match="TypeError") as info:
        execute("x = 'a' + 1", {})
    assert isinstance(info.value.__cause__, TypeError)


# ---------------------------------------------------------------- analysis, globals, cache, speed


def test_free_names_lists_context_variables_when_code_reads_them() -> None:
    assert free_names("date_chirurgie + timedelta(days=1)", "eval") == {"date_chirurgie"}
    assert free_names("[x for x in items if x > seuil]", "eval") == {"items", "seuil"}
    assert free_names("sorted(items, key=lambda i: i[cle])", "eval") == {"items", "cle"}
    assert free_names("trimestre = trimestre + 1\nalerte = poids >= 2.0\nz = alerte", "exec") == {
        "trimestre", "poids"}
    assert free_names("n += 1", "exec") == {"n"}
    assert free_names("del tmp", "exec") == {"tmp"}
    assert free_names("for i in range(3):\n    total = i\nfin = total", "exec") == set()
    with pytest.raises(SandboxError):
        free_names("__import__('os')", "eval")


def test_add_months_keeps_the_day_and_the_local_time_when_crossing_leap_years_and_summer_time() -> None:
    inclusion = datetime(2027, 4, 5, tzinfo=PARIS)
    assert evaluate("add_months(d, 12) + timedelta(hours=9)", {"d": inclusion}) == datetime(2028, 4, 5, 9, tzinfo=PARIS)
    assert evaluate("add_months(d, 1)", {"d": datetime(2028, 1, 31, 9, tzinfo=PARIS)}) == datetime(
        2028, 2, 29, 9, tzinfo=PARIS)
    assert evaluate("add_months(d, 12)", {"d": date(2028, 2, 29)}) == date(2029, 2, 28)
    assert evaluate("add_months(d, -3)", {"d": datetime(2027, 7, 1, 9, tzinfo=PARIS)}) == datetime(
        2027, 4, 1, 9, tzinfo=PARIS)  # 09:00 in summer time stays 09:00 in winter time
    assert evaluate("add_months('2027-04-05', 12)", {}) == datetime(2028, 4, 5, tzinfo=PARIS)
    for bad in ("add_months(d, 1.5)", "add_months(3, 1)", "add_months(d, 10 ** 6)"):
        with pytest.raises(SandboxError):
            evaluate(bad, {"d": inclusion})


def test_safe_globals_hold_only_the_documented_names_when_imported() -> None:
    assert set(SAFE_GLOBALS) == {
        "datetime", "date", "timedelta", "min", "max", "abs", "round", "len", "sum", "sorted", "any", "all", "int",
        "float", "str", "bool", "list", "dict", "tuple", "set", "range", "enumerate", "zip", "isinstance", "True",
        "False", "None", "parse_date", "days_between", "add_months",
    }
    assert SAFE_GLOBALS["datetime"] is datetime and SAFE_GLOBALS["timedelta"] is timedelta
    with pytest.raises(TypeError):
        SAFE_GLOBALS["open"] = open  # type: ignore[index]


def test_compiled_code_is_cached_when_same_source_is_evaluated_again() -> None:
    source = "cache_probe_value + 1"
    evaluate(source, {"cache_probe_value": 1})
    before = sandbox._compile.cache_info().hits
    evaluate(source, {"cache_probe_value": 2})
    assert sandbox._compile.cache_info().hits == before + 1


def test_evaluate_cost_when_cache_is_warm() -> None:
    context = {"douleur_nrs": 8, **{f"champ_{i}": i for i in range(40)}}
    evaluate("douleur_nrs >= 7", context)
    runs = 20_000
    started = time.perf_counter()
    for _ in range(runs):
        evaluate("douleur_nrs >= 7", context)
    per_call = (time.perf_counter() - started) / runs * 1e6
    print(f"\nevaluate('douleur_nrs >= 7') on a warm cache: {per_call:.2f} µs per call (target < 20 µs)")


def test_sandbox_module_imports_no_framework_when_imported_alone() -> None:
    root = Path(__file__).resolve().parents[2]
    code = ("import sys, engine.bpmn.sandbox; "
            "print(sorted(m for m in sys.modules if m.split('.')[0].lower() in {'spiffworkflow', 'flask', 'celery'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
