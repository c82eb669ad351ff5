"""The `parcours` command line: a Flask CLI group whose commands call engine services."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from webapp import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             help="Parcours: coordinated care pathways (BPMN) for multi-professional teams.")
def main() -> None:
    """Entry point of the `parcours` console script."""


def register_cli(app: Flask) -> None:
    """Attach every Parcours command to the app's CLI (and so to the `parcours` group)."""
    from webapp.cli import demo, pathways, running, simulate, work

    for module in (pathways, running, work, demo, simulate):
        for command in module.COMMANDS:
            app.cli.add_command(command)
