"""Login and logout pages (password), and the OIDC path when it is configured."""

from __future__ import annotations

from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from joserfc.errors import JoseError
from requests import RequestException
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from engine.db import db
from engine.models import Professional
from engine.services import audit
from engine.types import Actor
from webapp.auth import oidc
from webapp.auth.users import SessionUser
from webapp.errors import error_response
from webapp.extensions import limiter, login_rate_limit
from webapp.web import clock

bp = Blueprint("auth", __name__, url_prefix="/auth")

# Checked when the login is unknown, so that a wrong login takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not-a-password")


class LoginForm(FlaskForm):  # type: ignore[misc]
    login = StringField("Identifiant", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Mot de passe", validators=[DataRequired(), Length(max=200)])


def _safe_next(target: str | None) -> str:
    """Only a path on this site (no scheme, no host): never an open redirect."""
    if target and target.startswith("/") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for("home")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_rate_limit, methods=["POST"])
def login() -> str | Response:
    if current_user.is_authenticated:
        return redirect(_safe_next(request.args.get("next")))
    form = LoginForm()
    if form.validate_on_submit():
        login_name = form.login.data.strip()
        pro = db.session.scalar(select(Professional).where(Professional.login == login_name))
        password_hash = pro.password_hash if pro is not None and pro.active and pro.password_hash else _DUMMY_HASH
        ok = check_password_hash(password_hash, form.password.data) and password_hash is not _DUMMY_HASH
        now = clock().now()
        if ok and pro is not None:
            login_user(SessionUser.of(pro))
            audit.record(Actor("professional", pro.login, pro.id), "auth.login", at=now, object_type="session")
            return redirect(_safe_next(request.args.get("next")))
        audit.record(Actor("anonymous", login_name[:120]), "auth.login", at=now, object_type="session",
                     outcome="denied", details={"ip": request.remote_addr})
        db.session.commit()
        flash(_("Identifiant ou mot de passe incorrect."), "error")
        return render_template("auth/login.html", form=form, oidc=oidc.enabled()), 401  # type: ignore[return-value]
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, oidc=oidc.enabled()), status  # type: ignore[return-value]


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    if current_user.is_authenticated:
        audit.record(current_user.actor, "auth.logout", at=clock().now(), object_type="session")
    logout_user()
    return redirect(url_for("auth.login"))


@bp.route("/oidc/login")
def oidc_login() -> Response:
    if not oidc.enabled():
        abort(404)
    try:
        return oidc.authorize_redirect(url_for("auth.oidc_callback", _external=True))  # type: ignore[no-any-return]
    except RequestException as exc:
        current_app.logger.warning("OIDC provider unreachable: %s", exc)
        return error_response(503, _("Le service d'identification est injoignable ; réessayez plus tard "
                                     "ou connectez-vous avec votre mot de passe."))


@bp.route("/oidc/callback")
def oidc_callback() -> str | Response:
    if not oidc.enabled():
        abort(404)
    try:
        subject = oidc.subject_from_callback()
    except (OAuthError, JoseError, RequestException) as exc:
        # State mismatch, refused consent or code, bad ID token, provider unreachable: a refusal, never a 500.
        current_app.logger.warning("OIDC callback refused: %s", exc)
        subject = None
    pro = db.session.scalar(select(Professional).where(Professional.oidc_subject == subject)) if subject else None
    now = clock().now()
    if pro is None or not pro.active:
        audit.record(Actor("anonymous", (subject or "?")[:120]), "auth.login", at=now, object_type="session",
                     outcome="denied", details={"method": "oidc"})
        db.session.commit()
        current_app.logger.warning("OIDC login refused: no active professional for this subject")
        flash(_("Ce compte n'est rattaché à aucun professionnel de Parcours."), "error")
        return redirect(url_for("auth.login"))
    login_user(SessionUser.of(pro))
    audit.record(Actor("professional", pro.login, pro.id), "auth.login", at=now, object_type="session",
                 details={"method": "oidc"})
    return redirect(url_for("home"))
