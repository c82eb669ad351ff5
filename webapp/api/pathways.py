"""API routes for pathway definitions: the catalogue, versions, and a version's BPMN XML."""

from __future__ import annotations

from flask import Response

from engine.services.pathways import get_version, list_pathways, list_versions
from webapp.api import bp
from webapp.api.http import dump
from webapp.api.schemas import pathway_list_schema, pathway_version_list_schema, pathway_version_schema


@bp.get("/pathways")
def list_pathway_catalogue() -> Response:
    """The pathway catalogue.
    ---
    get:
      tags: [pathways]
      summary: "Les parcours déployés (dernière version de chacun)."
      responses:
        200: {description: Les parcours, content: {application/json: {schema: PathwayListSchema}}}
        401: Unauthorized
    """
    return dump(pathway_list_schema, {"items": list_pathways()})


@bp.get("/pathways/<key:key>/versions")
def list_pathway_versions(key: str) -> Response:
    """A pathway's versions.
    ---
    get:
      tags: [pathways]
      summary: "Toutes les versions déployées d'un parcours, de la plus ancienne à la plus récente."
      responses:
        200: {description: Les versions, content: {application/json: {schema: PathwayVersionListSchema}}}
        401: Unauthorized
        404: NotFound
    """
    return dump(pathway_version_list_schema, {"items": list_versions(key)})


@bp.get("/pathways/<key:key>/versions/<id:number>")
def get_pathway_version(key: str, number: int) -> Response:
    """One version.
    ---
    get:
      tags: [pathways]
      summary: "Une version, avec ses dates d'ancrage et ses paramètres."
      responses:
        200: {description: La version, content: {application/json: {schema: PathwayVersionSchema}}}
        401: Unauthorized
        404: NotFound
    """
    return dump(pathway_version_schema, get_version(key, number))


@bp.get("/pathways/<key:key>/versions/<id:number>/bpmn")
def get_pathway_bpmn(key: str, number: int) -> Response:
    """A version's BPMN.
    ---
    get:
      tags: [pathways]
      summary: "Le fichier BPMN 2.0 (XML) de la version, tel que déployé."
      responses:
        200:
          description: Le BPMN
          content: {application/xml: {schema: {type: string}}}
        401: Unauthorized
        404: NotFound
    """
    version = get_version(key, number)
    return Response(version.bpmn_xml, mimetype="application/xml",
                    headers={"Content-Disposition": f'inline; filename="{version.key}-v{version.version}.bpmn"'})
