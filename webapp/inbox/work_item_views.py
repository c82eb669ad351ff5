"""One work item: its page (patient, form, comments), claim / unclaim / hand back / comment, completion.

Placeholders until the work-item pages are built; the endpoint names are the contract the inbox list uses.
"""

from __future__ import annotations

from flask import abort
from flask_login import login_required

from webapp.inbox import bp


@bp.route("/items/<int:work_item_id>")
@login_required
def show_work_item(work_item_id: int) -> str:
    abort(501)


@bp.route("/items/<int:work_item_id>/claim", methods=["POST"])
@login_required
def claim(work_item_id: int) -> str:
    abort(501)


@bp.route("/items/<int:work_item_id>/unclaim", methods=["POST"])
@login_required
def unclaim(work_item_id: int) -> str:
    abort(501)


@bp.route("/items/<int:work_item_id>/hand-back", methods=["POST"])
@login_required
def hand_back(work_item_id: int) -> str:
    abort(501)


@bp.route("/items/<int:work_item_id>/comment", methods=["POST"])
@login_required
def comment(work_item_id: int) -> str:
    abort(501)


@bp.route("/items/<int:work_item_id>/complete", methods=["POST"])
@login_required
def complete(work_item_id: int) -> str:
    abort(501)
