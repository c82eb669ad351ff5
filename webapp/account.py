"""My account: interface language and timezone."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.db import db
from engine.errors import InvalidInput
from engine.services.preferences import LANGUAGES, common_timezones, update_preferences
from webapp.auth.users import current_actor, current_session_user
from webapp.web import clock

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/", methods=["GET", "POST"])
@login_required
def preferences() -> str | Response | tuple[str, int]:
    user = current_session_user()
    assert user is not None  # noqa: S101 - login_required
    values = {"locale": user.locale, "timezone": user.timezone}
    errors: dict[str, str] = {}
    if request.method == "POST":
        values = {"locale": request.form.get("locale", ""), "timezone": request.form.get("timezone", "")}
        try:
            update_preferences(current_actor(), locale=values["locale"], timezone=values["timezone"],
                               at=clock().now())
        except InvalidInput as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            flash(_("Préférences enregistrées."), "success")
            return redirect(url_for("account.preferences"))
    page = render_template("account/preferences.html", values=values, errors=errors, languages=LANGUAGES,
                           timezones=common_timezones())
    return (page, 422) if errors else page
