"""Shared plumbing for CLI commands: one transaction per command, readable errors, JSON output."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.clock import Clock
from engine.db import db
from engine.errors import AccessDenied, EngineError, InvalidInput, PathwayDefinitionError, Problem
from engine.services import audit
from engine.services.people import actor_for, professional_by_login
from engine.types import Actor

F = TypeVar("F", bound=Callable[..., Any])


def clock() -> Clock:
    return current_app.extensions["parcours_clock"]  # type: ignore[no-any-return]


def local(when: datetime) -> datetime:
    """A stored (UTC) time in the site's timezone (PARCOURS_TIMEZONE, default Europe/Paris), for display."""
    return when.astimezone(ZoneInfo(current_app.config.get("PARCOURS_TIMEZONE") or "Europe/Paris"))


def database_problem(exc: OperationalError | ProgrammingError) -> str:
    """A readable line for a database error met by a command (most often: the schema is not there yet)."""
    text = str(exc.orig) if getattr(exc, "orig", None) is not None else str(exc)
    if "no such table" in text or "does not exist" in text:
        return "the database has no Parcours schema yet: run `parcours init` (or `parcours demo`) first"
    return f"database error: {text.splitlines()[0] if text else type(exc).__name__}"


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def print_problems(problems: list[Problem], given: str | None = None) -> None:
    """One `FILE:ELEMENT_ID: reason` line per problem on stderr, FILE as the user typed it when given."""
    for problem in problems:
        file = given if given and problem.file in (Path(given).name, "") else problem.file
        click.echo(f"{file}:{problem.element_id}: {problem.reason}", err=True)


def transactional(func: F) -> F:
    """Run the command in one transaction: commit on success; on an engine error roll back,
    print one readable line and exit 1 (a refused patient access is audited after the rollback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            db.session.commit()
            return result
        except AccessDenied as exc:
            db.session.rollback()
            audit.record_denial(exc, at=clock().now())
            db.session.commit()
            fail(str(exc))
        except PathwayDefinitionError as exc:
            db.session.rollback()
            print_problems(exc.problems)
            sys.exit(1)
        except InvalidInput as exc:
            db.session.rollback()
            fail(str(exc))
        except EngineError as exc:
            db.session.rollback()
            fail(str(exc))
        except (OperationalError, ProgrammingError) as exc:
            db.session.rollback()
            fail(database_problem(exc))
        return None

    return wrapper  # type: ignore[return-value]


def database_command(func: F) -> F:
    """For commands that manage their own transactions (init, demo): a database that cannot be reached or
    has no schema is one readable line and exit 1, not a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (OperationalError, ProgrammingError) as exc:
            db.session.rollback()
            fail(database_problem(exc))
        return None

    return wrapper  # type: ignore[return-value]


def parse_json_option(value: str | None, what: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(f"{what} must be a JSON object like '{{\"key\": \"value\"}}'")
    return parsed


def actor_from_login(login: str | None) -> Actor:
    if login is None:
        return Actor.cli()
    return actor_for(professional_by_login(login))


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def echo_json(payload: Any) -> None:
    click.echo(json.dumps(payload, default=_default, ensure_ascii=False, indent=2))
