"""CLI: init, validate, deploy, pathways."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy.exc import OperationalError, ProgrammingError

from engine.db import db
from engine.errors import PathwayDefinitionError
from engine.services.pathways import deploy_pathway, list_pathways, read_pathway_source, validate_source
from engine.services.roles import ensure_role_catalogue
from engine.types import Actor
from webapp.cli.support import (
    clock,
    database_command,
    database_problem,
    echo_json,
    fail,
    print_problems,
    transactional,
)


def init_database() -> None:
    """Upgrade the schema to the latest migration and refresh the role catalogue (commits)."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    ensure_role_catalogue()
    db.session.commit()


@click.command("init")
@database_command
def init_command() -> None:
    """Create or upgrade the database and the role catalogue."""
    init_database()
    url = db.engine.url.render_as_string(hide_password=True)
    click.echo(f"database ready: {url}")


def _check_files(files: tuple[str, ...], deploy: bool) -> int:
    failures = 0
    for given in files:
        path = Path(given)
        try:
            source = read_pathway_source(path)
        except PathwayDefinitionError as exc:
            print_problems(exc.problems, given)
            failures += 1
            continue
        if not deploy:
            compiled, problems = validate_source(source)
            if problems:
                failures += 1
                print_problems(problems, given)
            else:
                assert compiled is not None  # noqa: S101
                click.echo(f"{given}: ok ({compiled.key}, {len(compiled.elements)} elements)")
            continue
        try:
            result = deploy_pathway(source, actor=Actor.cli(), clock=clock())
            db.session.commit()
        except PathwayDefinitionError as exc:
            db.session.rollback()
            failures += 1
            print_problems(exc.problems, given)
            continue
        version = result.version
        verb = "deployed" if result.created else "unchanged, already"
        click.echo(f"{given}: {verb} {version.key} v{version.version} (sha256 {version.sha256[:12]})")
    return failures


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate_command(files: tuple[str, ...]) -> None:
    """Check BPMN pathway files; print FILE:ELEMENT_ID: reason for each problem (exit 1 if any)."""
    sys.exit(1 if _check_files(files, deploy=False) else 0)


@click.command("deploy")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def deploy_command(files: tuple[str, ...]) -> None:
    """Validate and deploy BPMN pathway files as new versions (identical content: no new version)."""
    try:
        failures = _check_files(files, deploy=True)
    except (OperationalError, ProgrammingError) as exc:
        db.session.rollback()
        fail(database_problem(exc))
        return
    sys.exit(1 if failures else 0)


@click.command("pathways")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@transactional
def pathways_command(as_json: bool) -> None:
    """List deployed pathways (latest version, number of versions, running instances)."""
    rows = list_pathways()
    if as_json:
        echo_json([row.__dict__ for row in rows])
        return
    if not rows:
        click.echo("no pathway deployed yet (parcours deploy workflows/bpmn/*.bpmn)")
    for row in rows:
        click.echo(f"{row.key:<28} v{row.version:<3} {row.active_instances:>5} active  {row.title}")


COMMANDS = [init_command, validate_command, deploy_command, pathways_command]
