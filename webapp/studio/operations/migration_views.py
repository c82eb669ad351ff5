"""The migration page: preview which instances of a version can move to another and why the others cannot;
move the selected ones (or all that can), all or nothing. A refusal shows the preview again (409 / 422) with
the reason, nothing moved."""

from __future__ import annotations

from flask import render_template, request
from flask_login import login_required

from engine.errors import InvalidInput
from engine.services.version_migration import MigrationRefused, migrate_instances, migration_preview
from webapp.studio.access import studio_actor
from webapp.studio.operations import bp
from webapp.transaction import refuse_change
from webapp.web import clock


def _version_arg(name: str) -> int:
    raw = (request.values.get(name) or "").strip()
    if not raw.isdigit():
        raise InvalidInput(f"'{name}' must be a version id", {name: "version attendue"})
    return int(raw)


def _selection() -> list[int] | None:
    if request.form.get("scope") == "all":
        return None
    ids = request.form.getlist("instance")
    if not all(i.isdigit() for i in ids):
        raise InvalidInput("the selection must be instance ids", {"instance": "sélection invalide"})
    return [int(i) for i in ids]


@bp.route("/migrations", methods=["GET", "POST"])
@login_required
def migration() -> tuple[str, int]:
    actor = studio_actor()
    source, target = _version_arg("from"), _version_arg("to")
    if request.method == "GET":
        preview = migration_preview(actor, source, target, clock=clock())
        return render_template("studio/operations/migration.html", preview=preview, result=None, refusal=None), 200
    try:
        result = migrate_instances(actor, source, target, _selection(), clock=clock())
    except (MigrationRefused, InvalidInput) as exc:
        refuse_change()
        preview = migration_preview(actor, source, target, clock=clock())
        status = 409 if isinstance(exc, MigrationRefused) else 422
        blocked = {m.instance_id for m in exc.blocked} if isinstance(exc, MigrationRefused) else set()
        return render_template("studio/operations/migration.html", preview=preview, result=None, refusal=str(exc),
                               refused=blocked), status
    return render_template("studio/operations/migration.html", preview=None, result=result, refusal=None), 200
