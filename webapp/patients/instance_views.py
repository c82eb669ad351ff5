"""One pathway instance of a patient: the diagram (bpmn-js viewer) with its markers, and its timeline."""

from __future__ import annotations

from typing import Any

from flask import render_template
from flask_login import login_required

from engine.errors import NotFound
from engine.services.diagrams import instance_diagram
from engine.services.patient_records import get_patient, main_anchor, patient_instances
from engine.services.patient_timeline import patient_timeline
from webapp.auth.users import current_actor
from webapp.patients import bp
from webapp.web import clock


@bp.route("/<int:patient_id>/instances/<int:instance_id>")
@login_required
def show_instance(patient_id: int, instance_id: int) -> str:
    actor = current_actor()
    patient = get_patient(actor, patient_id, action="patient.timeline_viewed", clock=clock())
    summary = next((s for s in patient_instances(patient.id) if s.instance.id == instance_id), None)
    if summary is None:
        raise NotFound(f"no pathway instance {instance_id} for this patient")
    timeline = patient_timeline(actor, patient.id, clock=clock(), instance_id=instance_id)
    return render_template("patients/instance.html", patient=patient, summary=summary, timeline=timeline,
                           anchor=main_anchor(summary.instance), now=clock().now())


@bp.route("/<int:patient_id>/instances/<int:instance_id>/diagram.json")
@login_required
def diagram_json(patient_id: int, instance_id: int) -> dict[str, Any]:
    diagram = instance_diagram(current_actor(), patient_id, instance_id, clock=clock())
    return {"instance_id": diagram.instance_id, "xml": diagram.xml, "markers": diagram.markers}


@bp.route("/<int:patient_id>/timeline")
@login_required
def timeline(patient_id: int) -> str:
    actor = current_actor()
    patient = get_patient(actor, patient_id, action="patient.timeline_viewed", clock=clock())
    entries = patient_timeline(actor, patient.id, clock=clock())
    return render_template("patients/timeline.html", patient=patient, timeline=entries, now=clock().now())
