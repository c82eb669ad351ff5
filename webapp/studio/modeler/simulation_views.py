"""Simulate a draft as it was last saved (the page is the library's ``render_simulation``, shared with versions)."""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_login import login_required

from engine.services.drafts import draft_source, get_draft
from webapp.studio.access import studio_actor
from webapp.studio.library.simulation_page import render_simulation
from webapp.studio.modeler import bp


@bp.route("/<int:draft_id>/simulate", methods=["GET", "POST"])
@login_required
def simulate(draft_id: int) -> tuple[str, int]:
    studio_actor()
    draft = get_draft(draft_id)
    return render_simulation(draft_source(draft),
                             heading=_("Simulation du brouillon « %(title)s » (dernier enregistrement)",
                                       title=draft.title),
                             back_url=url_for("modeler.edit", draft_id=draft.id))
