"""The `parcours` command line: a Flask CLI group whose commands call engine services."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, NoAppException, with_appcontext


def _create_app() -> Flask:
    from sqlalchemy.exc import ArgumentError

    from webapp import create_app

    try:
        return create_app()
    except (ArgumentError, ValueError) as exc:  # flask prints NoAppException as one readable line
        raise NoAppException(f"DATABASE_URL is not a usable database URL ({exc}); expected e.g. "
                             f"postgresql://user@host:5432/parcours or sqlite:////path/parcours.sqlite3") from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Parcours: coordinated care pathways (BPMN) for multi-professional teams.")
def main() -> None:
    """Entry point of the `parcours` console script."""


def _register_commands() -> None:
    """Attach every Parcours command to the group itself, not to the app: `parcours --help` lists them even
    when the app cannot be built (a bad DATABASE_URL), and each command loads the app when it runs."""
    from webapp.cli import demo, pathways, reminders, run, running, simulate, tokens, work

    for module in (pathways, running, work, reminders, demo, simulate, run, tokens):
        for command in module.COMMANDS:
            if command.callback is not None:
                command.callback = with_appcontext(command.callback)
            main.add_command(command)


_register_commands()
