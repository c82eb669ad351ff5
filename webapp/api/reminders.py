"""API route for SMS / e-mail providers: delivery receipts (a service account's token, de-duplicated)."""

from __future__ import annotations

from flask import Response

from engine.errors import NotPermitted
from engine.services.api_tokens import is_service_account
from engine.services.delivery import record_delivery_receipt
from webapp.api import bp
from webapp.api.http import dump, load_body
from webapp.api.schemas import receipt_create_schema, receipt_outcome_schema
from webapp.auth.users import current_actor
from webapp.web import clock


@bp.post("/reminders/callback")
def delivery_callback() -> Response:
    """A provider's delivery receipt.
    ---
    post:
      tags: [reminders]
      summary: "Accusé de remise d'un fournisseur (SMS, e-mail), avec le jeton d'un compte de service."
      description: >
        Le fournisseur s'authentifie avec le jeton d'un compte de service (un professionnel sans aucun rôle,
        donc sans accès aux patients : `parcours token create --service-account --user sms-gateway --name
        "Passerelle SMS"`). Un accusé déjà reçu (même identifiant, même statut) ne change rien
        (`duplicate: true`) : le fournisseur peut le renvoyer sans risque.
      requestBody:
        required: true
        content: {application/json: {schema: ReceiptCreateSchema}}
      responses:
        200: {description: Enregistré, content: {application/json: {schema: ReceiptOutcomeSchema}}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        415: UnsupportedMediaType
        422: InvalidInput
    """
    actor = current_actor()
    if not is_service_account(actor):
        raise NotPermitted("delivery receipts come from a provider's service account token, not a professional's")
    body = load_body(receipt_create_schema)
    outcome = record_delivery_receipt(body["provider_id"], body["status"], clock=clock(), actor=actor)
    return dump(receipt_outcome_schema, outcome)
