"""One database transaction per request: committed when the response succeeds, rolled back otherwise.

Services only flush; this is the one place (with the CLI's ``transactional`` and the jobs' FlaskTask)
that commits. Error handlers (webapp/errors.py) roll back first and may commit an audit of the refusal.
"""

from __future__ import annotations

from flask import Flask, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from engine.db import db


def _finish(response: Response) -> Response:
    if response.status_code >= 400:
        db.session.rollback()
        return response
    try:
        db.session.commit()
    except (StaleDataError, IntegrityError):
        # Someone else changed the same rows first (optimistic lock, unique key): nothing was written.
        db.session.rollback()
        from webapp.errors import error_response

        return error_response(409, "this changed meanwhile (someone else saved first); nothing was written: "
                                   "reload and try again")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_finish)
