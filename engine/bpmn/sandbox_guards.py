"""Run-time guards of the BPMN sandbox: attribute/item/write guards, size-bounded operators and builtins."""

from __future__ import annotations

import calendar
import math
import operator
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta, timezone
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

from engine.errors import SandboxError

MAX_REPEAT = 100_000  # items/chars made by `seq * n`
MAX_ITEMS = 1_000_000  # items a builtin may consume, or a list may reach through `+`, `+=`, extend
MAX_TEXT = 1_000_000  # chars of a string made by +, join, replace, padding, or str()/f-string of a container
MAX_VIRTUAL = 10_000_000  # size of a repeated list counting shared references each time
MAX_INT_BITS = 10_000  # bits of an int made by *, ** or <<
MAX_FORMAT_WIDTH = 1_000  # width / precision in a format spec or a %-format
MAX_RUN_ALLOCATION = 10_000_000  # items/chars (dict/set entries count 4) made by guarded operations in one run

PARIS = ZoneInfo("Europe/Paris")
_VIEWS = (type({}.keys()), type({}.values()), type({}.items()))
_LAZY_SIZED = (range, *_VIEWS)
_NATIVE_IN = (list, tuple, str, dict, set, frozenset, *_VIEWS)
_MATERIAL = (list, tuple, str, dict, set, frozenset)
_CONTAINERS = (list, tuple, set, frozenset)
_TEXT_CONTAINERS = (*_CONTAINERS, dict)
_SEQUENCES = (str, bytes, bytearray, list, tuple)


def _too_big(what: str, size: int, limit: int) -> SandboxError:
    return SandboxError(f"{what} would be too big ({size:,} > {limit:,})")


class _RunState(threading.local):
    """Per-thread state of the run going on: its token (for lambdas/generators) and what it allocated."""

    token: object | None = None
    spent: int = 0


RUN = _RunState()


def spend(size: int) -> None:
    """Count `size` items/chars made by this run; refuse once the run made more than MAX_RUN_ALLOCATION."""
    RUN.spent += size
    if RUN.spent > MAX_RUN_ALLOCATION:
        raise SandboxError(f"the code made more than {MAX_RUN_ALLOCATION:,} items/characters in one run")


def _spent(result: Any) -> Any:
    if isinstance(result, _MATERIAL):
        spend(len(result) * (4 if isinstance(result, dict | set | frozenset) else 1))
    elif isinstance(result, int) and result.bit_length() > 640:
        spend(result.bit_length() // 64)
    return result


def guarded_lambda(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a lambda so it only runs inside the (time-bounded) run that made it, never later from task data."""
    token = RUN.token

    def call(*args: Any, **kwargs: Any) -> Any:
        if token is None or RUN.token is not token:
            raise SandboxError("a lambda made by BPMN code can only be called while that code runs")
        return func(*args, **kwargs)

    return call


def guarded_generator(generator: Iterator[Any]) -> Iterator[Any]:
    """Same for generator expressions: they cannot be resumed once the run that made them is over."""
    token = RUN.token

    def alive() -> Iterator[Any]:
        while True:
            if token is None or RUN.token is not token:
                raise SandboxError("a generator made by BPMN code can only be used while that code runs")
            try:
                item = next(generator)
            except StopIteration:
                return
            yield item

    return alive()


def _safe_len(obj: Any) -> int:
    try:
        return len(obj)
    except OverflowError:  # range(10**100)
        return MAX_ITEMS + 1


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    count = 0
    for item in iterable:
        count += 1
        if count > MAX_ITEMS:
            raise SandboxError(f"more than {MAX_ITEMS:,} items")
        yield item


def bounded(iterable: Any) -> Any:
    """Return something that iterates like `iterable` but never yields more than MAX_ITEMS items."""
    if isinstance(iterable, _MATERIAL):
        return iterable  # already in memory: its size is already paid for
    if isinstance(iterable, _LAZY_SIZED):
        if _safe_len(iterable) > MAX_ITEMS:
            raise _too_big("this sequence", _safe_len(iterable), MAX_ITEMS)
        return iterable
    return _counted(iterable)  # zip, enumerate, generators...: C code would pull them without any trace event


def virtual_size(obj: Any, budget: int) -> int:
    """Rough size of `obj` written out, counting shared references each time; stops once over `budget`."""
    total, stack = 0, [obj]
    while stack and total <= budget:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, _CONTAINERS):
            total += len(item) + 2
            if total <= budget:
                stack.extend(item)
        elif isinstance(item, dict):
            total += 2 * len(item) + 2
            if total <= budget:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        else:
            total += 1
    return total


def check_text(obj: Any) -> None:
    """Refuse turning a container into text when the text would exceed MAX_TEXT."""
    if isinstance(obj, _TEXT_CONTAINERS) and (size := virtual_size(obj, MAX_TEXT)) > MAX_TEXT:
        raise _too_big("the text of this value", size, MAX_TEXT)


def _check_width(digits: str) -> None:
    if len(digits) > 6 or int(digits) > MAX_FORMAT_WIDTH:
        raise SandboxError(f"format width/precision {digits[:12]} is over {MAX_FORMAT_WIDTH}")


# ---------------------------------------------------------------- operators


def _check_repeat(seq: Any, times: Any) -> None:
    try:
        n = operator.index(times)
    except TypeError:
        return  # not a repetition: let Python raise its own error
    if n <= 0:
        return
    if len(seq) * n > MAX_REPEAT:
        raise _too_big("sequence repetition", len(seq) * n, MAX_REPEAT)
    if isinstance(seq, list | tuple) and (size := virtual_size(seq, MAX_VIRTUAL) * n) > MAX_VIRTUAL:
        raise _too_big("sequence repetition (nested)", size, MAX_VIRTUAL)


def _check_bits(bits: float, op: str) -> None:
    if bits > MAX_INT_BITS:
        raise SandboxError(f"integer result of {op} would have about {int(bits):,} bits (limit {MAX_INT_BITS:,})")


def guarded_mul(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES):
        _check_repeat(a, b)
    elif isinstance(b, _SEQUENCES):
        _check_repeat(b, a)
    elif isinstance(a, int) and isinstance(b, int):
        _check_bits(a.bit_length() + b.bit_length(), "*")
    return _spent(a * b)


def guarded_pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _check_bits(b * math.log2(abs(a)), "**")
    return _spent(a**b)


def guarded_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a and b > 0:
        _check_bits(a.bit_length() + b, "<<")
    return _spent(a << b)


def guarded_add(a: Any, b: Any) -> Any:
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        limit = MAX_TEXT if isinstance(a, str | bytes) else MAX_ITEMS
        if len(a) + len(b) > limit:
            raise _too_big("concatenation", len(a) + len(b), limit)
    return _spent(a + b)


def _accounting(op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def guarded(a: Any, b: Any) -> Any:  # `-`, `|`, `&`, `^`: new sets/dicts count against the run's allocation
        return _spent(op(a, b))

    return guarded


guarded_sub, guarded_or, guarded_and, guarded_xor = (_accounting(o) for o in (
    operator.sub, operator.or_, operator.and_, operator.xor))


def guarded_mapping_unpack(mapping: Any) -> Any:
    """`{**mapping}` copies the mapping."""
    if isinstance(mapping, Mapping):
        spend(4 * len(mapping))
    return mapping


_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?[a-zA-Z%]")


def guarded_mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        for match in _PERCENT.finditer(a):
            for group in match.groups():
                if group == "*":
                    raise SandboxError("'*' width/precision in %-format is not allowed")
                if group:
                    _check_width(group)
        check_text(b)
        return _spent(a % b)
    return a % b


def guarded_format(value: Any, conversion: int, spec: str | None) -> str:
    """f-string placeholder `{value!conversion:spec}` with bounded output."""
    check_text(value)
    if conversion == ord("s"):
        value = str(value)
    elif conversion == ord("r"):
        value = repr(value)
    elif conversion == ord("a"):
        value = ascii(value)
    _check_spec(spec or "")
    return _spent(format(value, spec or ""))


def _check_spec(spec: str) -> None:
    """Format spec / strftime format: short, and no huge width or precision."""
    if len(spec) > MAX_FORMAT_WIDTH:
        raise _too_big("format spec", len(spec), MAX_FORMAT_WIDTH)
    for digits in re.findall(r"\d+", spec):
        _check_width(digits)


def guarded_inplace(op: str, target: Any, value: Any) -> Any:
    """`target op= value` (RestrictedPython's _inplacevar_) through the same bounds as the binary operators."""
    if op == "+=" and isinstance(target, list):
        _list_extend(target)(value)
        return target
    binary = _INPLACE.get(op)
    if binary is None:
        raise SandboxError(f"operator {op} is not allowed")
    return binary(target, value)


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": guarded_add, "*=": guarded_mul, "**=": guarded_pow, "<<=": guarded_lshift, "%=": guarded_mod,
    "-=": guarded_sub, "/=": operator.truediv, "//=": operator.floordiv, ">>=": operator.rshift,
    "&=": guarded_and, "|=": guarded_or, "^=": guarded_xor,
}


class _ScanIn:
    __slots__ = ("_items",)

    def __init__(self, items: Any) -> None:
        self._items = items

    def __contains__(self, item: Any) -> bool:
        return any(x is item or x == item for x in bounded(self._items))


class _HugeRangeIn:
    __slots__ = ("_range",)

    def __init__(self, rng: range) -> None:
        self._range = rng

    def __contains__(self, item: Any) -> bool:
        if isinstance(item, int):
            return item in self._range  # O(1)
        if isinstance(item, float):
            return item.is_integer() and int(item) in self._range
        raise SandboxError("membership test of a non-number in a huge range")


def guarded_in(container: Any) -> Any:
    """Right operand of `in` / `not in`: no unbounded C-level scan of ranges and iterators."""
    if isinstance(container, _NATIVE_IN):
        return container
    if isinstance(container, range):
        return container if _safe_len(container) <= MAX_ITEMS else _HugeRangeIn(container)
    if hasattr(type(container), "__contains__"):
        return container
    return _ScanIn(container)


# ---------------------------------------------------------------- methods that could blow up in C


def _padding(name: str) -> Callable[[Any], Any]:
    def factory(text: str) -> Callable[..., str]:
        method = getattr(text, name)

        def call(width: Any, *args: Any) -> str:
            if isinstance(width, int) and width > MAX_TEXT:
                raise _too_big(f"str.{name}()", width, MAX_TEXT)
            return _spent(method(width, *args))

        return call

    return factory


def _expandtabs(text: str) -> Callable[..., str]:
    def call(tabsize: int = 8) -> str:
        if isinstance(tabsize, int) and (size := len(text) + text.count("\t") * tabsize) > MAX_TEXT:
            raise _too_big("str.expandtabs()", size, MAX_TEXT)
        return _spent(text.expandtabs(tabsize))

    return call


def _replace(text: str) -> Callable[..., str]:
    def call(old: str, new: str, count: int = -1) -> str:
        if isinstance(old, str) and isinstance(new, str) and isinstance(count, int):
            hits = text.count(old) if old else len(text) + 1
            hits = hits if count < 0 else min(hits, count)
            if (size := len(text) + hits * (len(new) - len(old))) > MAX_TEXT:
                raise _too_big("str.replace()", size, MAX_TEXT)
        return _spent(text.replace(old, new, count))

    return call


def _join(sep: str) -> Callable[[Any], str]:
    def call(iterable: Any) -> str:
        items = list(bounded(iterable))
        try:
            size = sum(map(len, items)) + len(sep) * max(len(items) - 1, 0)
        except TypeError:
            size = 0  # not all strings: str.join raises the proper error
        if size > MAX_TEXT:
            raise _too_big("str.join()", size, MAX_TEXT)
        spend(len(items))
        return _spent(sep.join(items))

    return call


def _strftime(value: date | time) -> Callable[[str], str]:
    def call(fmt: str) -> str:
        if isinstance(fmt, str):
            _check_spec(fmt)
        return value.strftime(fmt)

    return call


def _list_extend(target: list[Any]) -> Callable[[Any], None]:
    def call(iterable: Any) -> None:
        items = iterable if isinstance(iterable, list | tuple) else list(bounded(iterable))
        if len(target) + len(items) > MAX_ITEMS:
            raise _too_big("list", len(target) + len(items), MAX_ITEMS)
        spend(len(items))
        target.extend(items)

    return call


def _dict_update(target: dict[Any, Any]) -> Callable[..., None]:
    def call(*args: Any, **kwargs: Any) -> None:
        items = [a if isinstance(a, Mapping) else list(bounded(a)) for a in args]
        spend(sum(map(len, items)) + len(kwargs))
        target.update(*items, **kwargs)

    return call


def _set_method(name: str) -> Callable[[Any], Any]:
    def factory(target: Any) -> Callable[..., Any]:
        method = getattr(target, name)
        return lambda *others: _spent(method(*(bounded(o) for o in others)))

    return factory


def _accounted(name: str) -> Callable[[Any], Any]:
    def factory(target: Any) -> Callable[..., Any]:
        method = getattr(target, name)
        return lambda *args, **kwargs: _spent(method(*args, **kwargs))

    return factory


def _names(*names: str, **guarded: Callable[[Any], Any]) -> dict[str, Callable[[Any], Any] | None]:
    return {**dict.fromkeys(names), **guarded}


def _new_objects(*names: str, **guarded: Callable[[Any], Any]) -> dict[str, Callable[[Any], Any] | None]:
    """Methods that build new strings/containers: what they make counts against the run's allocation."""
    return {**{n: _accounted(n) for n in names}, **guarded}


_SET_GUARDED = {n: _set_method(n) for n in (
    "union", "intersection", "difference", "symmetric_difference", "issubset", "issuperset", "isdisjoint")}
_SET_MUTATING = {n: _set_method(n) for n in (
    "update", "intersection_update", "difference_update", "symmetric_difference_update")}
_STR = _new_objects(
    "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isascii", "isdecimal",
    "isdigit", "isidentifier", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
    "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    center=_padding("center"), ljust=_padding("ljust"), rjust=_padding("rjust"), zfill=_padding("zfill"),
    expandtabs=_expandtabs, replace=_replace, join=_join)
_INT = _names("bit_length", "bit_count", "conjugate", "denominator", "imag", "numerator", "real",
              "as_integer_ratio", "is_integer")
_DATE = _names("year", "month", "day", "replace", "weekday", "isoweekday", "isocalendar", "isoformat", "toordinal",
               "ctime", strftime=_strftime)
_TIME = _names("hour", "minute", "second", "microsecond", "tzinfo", "fold", "replace", "isoformat", "utcoffset",
               "tzname", "dst", strftime=_strftime)
_TZ = _names("key", "utcoffset", "tzname", "dst")
_ATTRS: dict[type, dict[str, Callable[[Any], Any] | None]] = {
    str: _STR,
    int: _INT,
    bool: _INT,
    float: _names("as_integer_ratio", "conjugate", "imag", "real", "is_integer"),
    list: _names("append", "clear", "count", "index", "insert", "pop", "remove", "reverse", "sort",
                 copy=_accounted("copy"), extend=_list_extend),
    tuple: _names("count", "index"),
    dict: _names("clear", "get", "items", "keys", "pop", "popitem", "setdefault", "values",
                 copy=_accounted("copy"), update=_dict_update),
    set: _names("add", "clear", "discard", "pop", "remove", copy=_accounted("copy"), **_SET_GUARDED, **_SET_MUTATING),
    frozenset: _names(copy=_accounted("copy"), **_SET_GUARDED),
    range: _names("start", "stop", "step"),
    date: _DATE,
    datetime: {**_DATE, **_TIME, **_names("date", "time", "timetz", "astimezone", "timestamp")},
    time: _TIME,
    timedelta: _names("days", "seconds", "microseconds", "total_seconds"),
    type(date(2000, 1, 1).isocalendar()): _names("year", "week", "weekday"),
    timezone: _TZ,
    ZoneInfo: _TZ,
}
_MUTATORS = {"append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort", "popitem", "setdefault",
             "update", "add", "discard", *_SET_MUTATING}
def _strptime(cls: type[datetime]) -> Callable[[str, str], datetime]:
    # C strptime imports _strptime through the caller's __builtins__: call it from here, not from sandboxed code.
    return lambda text, fmt: cls.strptime(text, fmt)


# datetime.now()/today() are left out on purpose: the engine clock (simulations) is the only source of "now".
_CLASS_ATTRS: dict[type, dict[str, Callable[[Any], Any] | None]] = {
    datetime: _names("fromisoformat", "fromtimestamp", "fromordinal", "fromisocalendar", "combine", "min", "max",
                     "resolution", strptime=_strptime),
    date: _names("fromisoformat", "fromtimestamp", "fromordinal", "fromisocalendar", "min", "max", "resolution"),
    timedelta: _names("min", "max", "resolution"),
}
# Never readable on any object, whatever its type (frames, code, generators, str.format...).
NEVER_ATTRIBUTES = frozenset({
    "format", "format_map", "mro", "tb_frame", "tb_next", "f_back", "f_builtins", "f_code", "f_generator",
    "f_globals", "f_locals", "f_trace", "co_code", "gi_frame", "gi_code", "gi_yieldfrom", "cr_await", "cr_frame",
    "cr_code", "cr_origin", "ag_await", "ag_frame", "ag_code",
})


def _attrs_of(obj: Any) -> dict[str, Callable[[Any], Any] | None] | None:
    for klass in type(obj).__mro__:
        if klass in _ATTRS:
            return _ATTRS[klass]
    return None


def _getattr(obj: Any, name: str, readonly: bool) -> Any:
    if not isinstance(name, str) or name.startswith("_") or name in NEVER_ATTRIBUTES:
        raise SandboxError(f"attribute '{name}' is not allowed")
    if readonly and name in _MUTATORS and isinstance(obj, list | dict | set):
        raise SandboxError(f"'{name}()' would modify task data; expressions are read-only (use a script)")
    allowed = _ATTRS.get(type(obj)) or _attrs_of(obj)
    if allowed is not None:
        if name not in allowed:
            raise SandboxError(f"attribute '{name}' of {type(obj).__name__} values is not allowed")
        wrap = allowed[name]
        return getattr(obj, name) if wrap is None else wrap(obj)
    if isinstance(obj, type):
        class_allowed = _CLASS_ATTRS.get(obj, {})
        if name not in class_allowed:
            raise SandboxError(f"attribute '{name}' of {obj.__name__} is not allowed")
        wrap = class_allowed[name]
        return getattr(obj, name) if wrap is None else wrap(obj)
    if type(obj).__module__ in ("builtins", "types", "functools", "itertools", "collections", "operator"):
        raise SandboxError(f"attribute '{name}' of {type(obj).__name__} objects is not allowed")
    value = getattr(obj, name)  # an object the engine put in context/extra: public attributes only
    if isinstance(value, ModuleType | type):
        raise SandboxError(f"attribute '{name}' gives a module or a class, which is not allowed")
    return value


def guarded_getattr_rw(obj: Any, name: str) -> Any:
    """`obj.name` in scripts."""
    return _getattr(obj, name, readonly=False)


def guarded_getattr_ro(obj: Any, name: str) -> Any:
    """`obj.name` in expressions: also refuses methods that modify lists, dicts and sets."""
    return _getattr(obj, name, readonly=True)


def guarded_getitem(obj: Any, key: Any) -> Any:
    if isinstance(obj, type):
        raise SandboxError(f"subscripting the class {obj.__name__} is not allowed")
    if isinstance(key, slice):
        return _spent(obj[key])  # a slice is a copy
    return obj[key]


class _ListWriter:
    """What `_write_(a_list)` returns: item and slice assignment, slices bounded."""

    __slots__ = ("_target",)

    def __init__(self, target: list[Any]) -> None:
        self._target = target

    def __setitem__(self, key: Any, value: Any) -> None:
        if isinstance(key, slice):
            value = value if isinstance(value, list | tuple) else list(bounded(value))
            if len(self._target) + len(value) > MAX_ITEMS:
                raise _too_big("list", len(self._target) + len(value), MAX_ITEMS)
            spend(len(value))
        self._target[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._target[key]


def guarded_write_rw(obj: Any) -> Any:
    """Target of `obj[k] = v`, `del obj[k]`, `obj.a = v` in scripts: only items of dicts and lists."""
    if isinstance(obj, dict):
        return obj
    if isinstance(obj, list):
        return _ListWriter(obj)
    raise SandboxError(f"{type(obj).__name__} values cannot be modified in the sandbox")


def guarded_write_ro(obj: Any) -> Any:
    raise SandboxError("expressions cannot modify values")


def _unpack(iterable: Any, spec: Mapping[str, Any], _getiter: Any = None) -> list[Any]:
    items = _list(iterable)
    if len(items) >= spec["min_len"]:
        for index, child in spec["childs"]:
            items[index] = _unpack(items[index], child)
    return items


def _iter_unpack(iterable: Any, spec: Mapping[str, Any], _getiter: Any = None) -> Iterator[list[Any]]:
    for item in iterable:
        yield _unpack(item, spec)


def _apply(func: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    return func(*args, **kwargs)


def _identity(obj: Any) -> Any:
    return obj


# ---------------------------------------------------------------- safe builtins


def _list(iterable: Any = (), /) -> list[Any]:
    return _spent(list(bounded(iterable)))


def _tuple(iterable: Any = (), /) -> tuple[Any, ...]:
    return _spent(tuple(bounded(iterable)))


def _set(iterable: Any = (), /) -> set[Any]:
    return _spent(set(bounded(iterable)))


def _dict(*args: Any, **kwargs: Any) -> dict[Any, Any]:
    return _spent(dict(*(a if isinstance(a, Mapping) else bounded(a) for a in args), **kwargs))


def _str(obj: Any = "", /) -> str:
    check_text(obj)
    return _spent(str(obj))


def _round(number: Any, ndigits: Any = None) -> Any:
    if isinstance(ndigits, int) and abs(ndigits) > MAX_FORMAT_WIDTH:  # round(1, -10**9) computes 10**(10**9)
        raise SandboxError(f"round() to {ndigits} digits is not allowed")
    return round(number, ndigits)


def _sorted(iterable: Any, /, *, key: Any = None, reverse: bool = False) -> list[Any]:
    return _spent(sorted(bounded(iterable), key=key, reverse=reverse))


def _min(*args: Any, **kwargs: Any) -> Any:
    return min(*((bounded(args[0]),) if len(args) == 1 else args), **kwargs)


def _max(*args: Any, **kwargs: Any) -> Any:
    return max(*((bounded(args[0]),) if len(args) == 1 else args), **kwargs)


def _sum(iterable: Any, /, start: Any = 0) -> Any:
    if isinstance(start, _SEQUENCES):
        raise SandboxError("sum() of lists/tuples/strings is not allowed: use a comprehension or join()")
    return sum(bounded(iterable), start)


def _any(iterable: Any, /) -> bool:
    return any(bounded(iterable))


def _all(iterable: Any, /) -> bool:
    return all(bounded(iterable))


_REAL_TYPES: dict[Any, type] = {_list: list, _tuple: tuple, _set: set, _dict: dict, _str: str}


def _isinstance(obj: Any, classinfo: Any, /) -> bool:
    if isinstance(classinfo, tuple):
        return isinstance(obj, tuple(_REAL_TYPES.get(c, c) for c in classinfo))
    return isinstance(obj, _REAL_TYPES.get(classinfo, classinfo))


def parse_date(value: Any) -> datetime:
    """ISO 8601 text (or a date/datetime) -> aware datetime; naive values are read as Europe/Paris."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    elif not isinstance(value, datetime):
        raise TypeError(f"parse_date() needs an ISO 8601 string, not {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=PARIS)


def _day(value: Any) -> date:
    if isinstance(value, str | datetime):
        return parse_date(value).astimezone(PARIS).date()
    if isinstance(value, date):
        return value
    raise TypeError(f"days_between() needs dates, datetimes or ISO strings, not {type(value).__name__}")


def days_between(start: Any, end: Any) -> int:
    """Whole calendar days (Europe/Paris) from `start` to `end`; negative when `end` is before `start`."""
    return (_day(end) - _day(start)).days


def add_months(value: Any, months: int) -> Any:
    """The same day ``months`` calendar months later (earlier if negative), at the same wall-clock time in the
    value's timezone; the 31st becomes the month's last day (31 Jan + 1 month = 28 or 29 Feb). Anniversaries:
    ``add_months(date_inclusion, 12)`` is the same date next year, leap years included."""
    if isinstance(value, str):
        value = parse_date(value)
    if not isinstance(value, date):
        raise TypeError(f"add_months() needs a date or datetime, not {type(value).__name__}")
    if not isinstance(months, int) or isinstance(months, bool):
        raise TypeError(f"add_months() needs a whole number of months, not {months!r}")
    index = value.year * 12 + value.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError("add_months() goes past the calendar's range")
    day = min(value.day, calendar.monthrange(year, month + 1)[1])
    return value.replace(year=year, month=month + 1, day=day)


SAFE_NAMES: dict[str, Any] = {
    "datetime": datetime, "date": date, "timedelta": timedelta,
    "min": _min, "max": _max, "abs": abs, "round": _round, "len": len, "sum": _sum, "sorted": _sorted,
    "any": _any, "all": _all, "int": int, "float": float, "str": _str, "bool": bool, "list": _list,
    "dict": _dict, "tuple": _tuple, "set": _set, "range": range, "enumerate": enumerate, "zip": zip,
    "isinstance": _isinstance, "True": True, "False": False, "None": None,
    "parse_date": parse_date, "days_between": days_between, "add_months": add_months,
}
_COMMON_GUARDS: dict[str, Any] = {
    "_getitem_": guarded_getitem, "_getiter_": _identity, "_iter_unpack_sequence_": _iter_unpack,
    "_unpack_sequence_": _unpack, "_apply_": _apply, "_inplacevar_": guarded_inplace,
    "_mul_": guarded_mul, "_pow_": guarded_pow, "_lshift_": guarded_lshift, "_add_": guarded_add,
    "_mod_": guarded_mod, "_fmt_": guarded_format, "_star_": _list, "_in_": guarded_in,
    "_lambda_": guarded_lambda, "_genexp_": guarded_generator, "_sub_": guarded_sub, "_or_": guarded_or,
    "_and_": guarded_and, "_xor_": guarded_xor, "_starstar_": guarded_mapping_unpack,
}


def make_builtins(readonly: bool) -> dict[str, Any]:
    """The `__builtins__` of sandboxed code: the safe names plus the guards the compiled code calls."""
    return {
        **SAFE_NAMES, **_COMMON_GUARDS,
        "_getattr_": guarded_getattr_ro if readonly else guarded_getattr_rw,
        "_write_": guarded_write_ro if readonly else guarded_write_rw,
    }
