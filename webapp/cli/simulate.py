"""CLI: simulate a pathway on a virtual clock and an in-memory database."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.db import db
from engine.errors import EngineError, PathwayDefinitionError
from engine.services.pathways import PathwaySource, latest_version, read_pathway_source
from engine.services.simulation import simulate_pathway
from webapp.cli.support import clock, database_problem, echo_json, fail, parse_json_option, print_problems

PARIS = ZoneInfo("Europe/Paris")


def _source(file_or_key: str) -> PathwaySource:
    path = Path(file_or_key)
    if path.suffix == ".bpmn" or path.exists():
        return read_pathway_source(path)
    version = latest_version(file_or_key)
    return PathwaySource(filename=version.filename, bpmn=version.bpmn_xml.encode("utf-8"), forms=dict(version.forms),
                         dmn_files={k: v.encode("utf-8") for k, v in (version.dmn_files or {}).items()})


def _print_calendar(report_calendar: list[dict], start: datetime) -> None:
    current_day = None
    for entry in report_calendar:
        if entry["day"] != current_day:
            current_day = entry["day"]
            when = datetime.fromisoformat(entry["at"]).astimezone(PARIS)
            click.echo(f"\nJ{current_day:+d}  {when:%a %d/%m/%Y}")
        what = entry.get("title") or entry.get("template") or entry.get("element_id") or ""
        who = entry.get("role") or entry.get("recipient") or ""
        extra = f" {entry['data']}" if entry.get("data") else ""
        click.echo(f"   {entry['kind']:<10} {who:<18} {what}{extra}")


@click.command("simulate")
@click.argument("file_or_key")
@click.option("--days", type=click.IntRange(1, 36500), default=180, show_default=True)
@click.option("--context", default=None, help='Anchor dates and values, JSON (missing anchors: the start day).')
@click.option("--answers", "answers_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="JSON file: {element_id: {field: value}} or a list of answers per occurrence.")
@click.option("--start", "start_text", default=None, help="Virtual start date (ISO 8601; default: today 08:00).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (summary + calendar).")
def simulate_command(file_or_key: str, days: int, context: str | None, answers_file: str | None,
                     start_text: str | None, as_json: bool) -> None:
    """Dry-run a pathway: auto-complete work items, fire timers, plan reminders; print the calendar."""
    try:
        ctx = parse_json_option(context, "--context")
        answers = json.loads(Path(answers_file).read_text(encoding="utf-8")) if answers_file else {}
        if not isinstance(answers, dict):
            fail("--answers must hold a JSON object keyed by element id")
        source = _source(file_or_key)
        if start_text:
            start = datetime.fromisoformat(start_text)
            start = start if start.tzinfo else start.replace(tzinfo=PARIS)
        else:
            start = clock().now().astimezone(PARIS).replace(hour=8, minute=0, second=0, microsecond=0)
    except (json.JSONDecodeError, ValueError) as exc:
        fail(f"bad input: {exc}")
        return
    except PathwayDefinitionError as exc:
        print_problems(exc.problems, file_or_key)
        sys.exit(1)
    except EngineError as exc:
        fail(str(exc))
        return
    except (OperationalError, ProgrammingError) as exc:
        fail(database_problem(exc))
        return
    from webapp import create_app

    sim_app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "PARCOURS_CLOCK": clock()})
    with sim_app.app_context():
        db.create_all()
        show_bar = not as_json and sys.stdout.isatty()
        try:
            if show_bar:
                with click.progressbar(length=days, label="simulation", file=sys.stderr) as bar:
                    report = simulate_pathway(source, start=start, days=days, context=ctx, answers=answers,
                                              progress=bar.update)
            else:
                report = simulate_pathway(source, start=start, days=days, context=ctx, answers=answers)
        except PathwayDefinitionError as exc:
            print_problems(exc.problems, file_or_key)
            sys.exit(1)
        except EngineError as exc:
            fail(str(exc))
            return
    if as_json:
        echo_json({"pathway": report.key, "start": report.start, "end": report.end, "summary": report.summary,
                   "defaulted_anchors": report.defaulted_anchors, "calendar": report.calendar})
    else:
        for name, value in report.defaulted_anchors.items():
            click.echo(f"{name} = {value} (not given: the start day; steps before it are not shown — "
                       f"--context '{{\"{name}\": \"YYYY-MM-DD\"}}')")
        _print_calendar(report.calendar, start)
        click.echo("\n" + ", ".join(f"{k}: {v}" for k, v in report.summary.items() if v is not None))
    if report.status == "error":
        sys.exit(1)



COMMANDS = [simulate_command]
