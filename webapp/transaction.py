"""One database transaction per request: committed when the response succeeds, rolled back otherwise.

Services only flush; this is the one place (with the CLI's ``transactional`` and the jobs' FlaskTask)
that commits. Error handlers (webapp/errors.py) roll back first and may commit an audit of the refusal.
"""

from __future__ import annotations

from flask import Flask, Response, g
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from engine.db import db

KEEP_REREAD = "parcours_keep_reread"


def refuse_change() -> None:
    """A view refused the user's change and shows the page again (a 4xx with messages next to the fields):
    drop everything the change wrote, now, and keep what the view does next — its access-checked, audited
    read of the page — which the end of the request then commits despite the 4xx status."""
    db.session.rollback()
    g.setdefault(KEEP_REREAD, True)


def _finish(response: Response) -> Response:
    if response.status_code >= 400 and not g.get(KEEP_REREAD):
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
