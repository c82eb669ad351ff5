"""The coordinator's overview page (coordinators only: others get 403)."""

from __future__ import annotations

from flask import render_template, request
from flask_login import login_required

from engine.services.coordination import coordination_overview
from webapp.auth.users import current_actor
from webapp.coordination import bp
from webapp.web import clock


@bp.route("/")
@login_required
def index() -> str:
    pathway = request.args.get("pathway", "").strip()[:120] or None
    overview = coordination_overview(current_actor(), clock=clock(), pathway_key=pathway)
    return render_template("coordination/index.html", overview=overview, pathway=pathway, now=clock().now())
