"""The simulation page of any pathway source — a deployed version today, a draft tomorrow — in one call:
``render_simulation(source, heading=...)`` answers GET (the form) and POST (the timeline, or 400 with reasons)."""

from __future__ import annotations

from flask import render_template, request
from flask_babel import gettext as _

from engine.bpmn.definition_outline import outline_definition
from engine.errors import InvalidInput
from engine.services.pathways import PathwaySource
from engine.services.simulation import SIMULATED_PATIENT_ZONE
from engine.services.studio_simulation import MAX_MONTHS, branch_questions, simulate_for_studio
from webapp.studio.access import studio_actor
from webapp.studio.library.simulation_form import anchor_input, answer_input, default_form, read_form
from webapp.web import clock


def render_simulation(source: PathwaySource, *, heading: str, back_url: str | None = None,
                      version_id: int | None = None) -> tuple[str, int]:
    """The simulation form for ``source`` and, on POST, its timeline by week (nothing stored but the audit)."""
    actor = studio_actor()
    outline = outline_definition(source.bpmn, source.filename)
    questions = branch_questions(source, outline)
    page = {"heading": heading, "back_url": back_url, "anchors": outline.anchors, "questions": questions,
            "max_months": MAX_MONTHS, "anchor_input": anchor_input, "answer_input": answer_input, "result": None}
    today = clock().now().astimezone(SIMULATED_PATIENT_ZONE).date()
    if request.method != "POST":
        return render_template("studio/library/simulate.html", form=default_form(outline.anchors, questions, today),
                               **page), 200
    form = read_form(request.form, outline.anchors, questions, today)
    if form.errors or form.start_day is None:
        return render_template("studio/library/simulate.html", form=form, **page), 400
    try:
        result = simulate_for_studio(actor, source, start_day=form.start_day, months=form.months,
                                     context=form.context, answers=form.answers, clock=clock(),
                                     version_id=version_id)
    except InvalidInput as exc:  # an anchor or an answer the pathway's forms refuse
        form.errors["answers_json"] = _("Refusé par le parcours : %(reason)s", reason=str(exc))
        return render_template("studio/library/simulate.html", form=form, **page), 400
    return render_template("studio/library/simulate.html", form=form, **{**page, "result": result}), 200
