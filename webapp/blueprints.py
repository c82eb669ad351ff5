"""The URL map: every blueprint, registered in one place."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from flask_login import current_user
from werkzeug.wrappers import Response


def _home() -> Response:
    if current_user.is_authenticated:
        return redirect(url_for("inbox.index"))
    return redirect(url_for("auth.login"))


def _health() -> tuple[dict[str, str], int]:
    return {"status": "ok"}, 200


def register_blueprints(app: Flask) -> None:
    from webapp.account import bp as account_bp
    from webapp.api import bp as api_bp
    from webapp.auth.views import bp as auth_bp
    from webapp.coordination import bp as coordination_bp
    from webapp.extensions import csrf
    from webapp.inbox import bp as inbox_bp
    from webapp.patient_link import bp as patient_link_bp
    from webapp.patients import bp as patients_bp
    from webapp.studio.library import bp as library_bp
    from webapp.studio.modeler import bp as modeler_bp
    from webapp.studio.operations import bp as operations_bp

    app.add_url_rule("/", "home", _home)
    app.add_url_rule("/healthz", "health", _health)
    for blueprint in (auth_bp, account_bp, inbox_bp, patients_bp, coordination_bp, patient_link_bp, library_bp,
                      modeler_bp, operations_bp):
        app.register_blueprint(blueprint)
    csrf.exempt(api_bp)  # token-authenticated JSON: no cookie session, so no CSRF to fear
    app.register_blueprint(api_bp)
    # The base template shows a section's link only once its pages exist.
    app.jinja_env.globals["url_endpoints"] = frozenset(rule.endpoint for rule in app.url_map.iter_rules())
