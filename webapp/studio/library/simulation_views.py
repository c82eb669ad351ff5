"""Simulate a deployed version (the page itself is ``simulation_page.render_simulation``, shared with drafts)."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.services.pathway_library import library_version, version_source
from webapp.studio.access import studio_actor
from webapp.studio.library import bp
from webapp.studio.library.simulation_page import render_simulation


@bp.route("/pathways/<key>/v<int:number>/simulate", methods=["GET", "POST"])
@login_required
def simulate(key: str, number: int) -> tuple[str, int]:
    version = library_version(studio_actor(), key, number)
    return render_simulation(version_source(version), version_id=version.id,
                             heading=_("Simulation de %(title)s v%(n)s", title=version.title, n=version.version),
                             back_url=url_for("library.version", key=key, number=number))
