"""What the drafts service reads from and writes into a draft's BPMN: its key and title, a renamed process,
the forms it refers to, and the starter templates it can begin from (workflows/starters/)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema.exceptions import SchemaError
from jsonschema.validators import Draft202012Validator, validator_for
from lxml import etree
from sqlalchemy import select

from engine.bpmn.parser import NS
from engine.bpmn.xml_safety import parse_xml
from engine.db import db
from engine.errors import InvalidInput, NotFound, Problem
from engine.models import Role
from engine.notify.settings import DEFAULT_TEMPLATES_DIR
from engine.notify.templates import template_keys
from engine.services.pathways import read_pathway_source

STARTERS_DIR = Path(__file__).resolve().parents[2] / "workflows" / "starters"
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,79}$")
FALLBACK_KEY = "brouillon"


@dataclass(frozen=True)
class StarterTemplate:
    """A small pathway to start a new draft from: a .bpmn in workflows/starters/ (forms in starters/forms/)."""

    name: str
    title: str
    description: str
    path: Path


def starter_templates(directory: Path | None = None) -> list[StarterTemplate]:
    """The starter templates, by name."""
    directory = directory or STARTERS_DIR
    starters = []
    for path in sorted(directory.glob("*.bpmn")):
        root = parse_xml(path.read_bytes(), path.name)
        key, title = key_and_title(root)
        description = root.xpath("string(//bpmn:process[@id=$k]/bpmn:documentation)", namespaces=NS, k=key)
        starters.append(StarterTemplate(path.stem, title, " ".join(str(description).split()), path))
    return starters


def starter_source(name: str, directory: Path | None = None) -> tuple[bytes, dict[str, Any]]:
    """The BPMN and forms of one starter template; NotFound for an unknown name."""
    for starter in starter_templates(directory):
        if starter.name == name:
            source = read_pathway_source(starter.path, starter.path.parent / "forms")
            return source.bpmn, dict(source.forms)
    raise NotFound(f"no starter template '{name}'")


def _main_process(root: etree._Element) -> etree._Element | None:
    processes = root.xpath("//bpmn:process", namespaces=NS)
    executable = [p for p in processes if p.get("isExecutable", "false") == "true"]
    return (executable or processes or [None])[0]


def key_and_title(root: etree._Element) -> tuple[str, str]:
    """The pathway key (the executable process id) and its title (process, else participant name)."""
    process = _main_process(root)
    if process is None:
        return FALLBACK_KEY, FALLBACK_KEY
    key = (process.get("id") or FALLBACK_KEY)[:120]
    title = process.get("name") or ""
    if not title:
        names = root.xpath("//bpmn:participant[@processRef=$k]/@name", namespaces=NS, k=key)
        title = str(names[0]) if names else key
    return key, title[:300]


def check_key(key: str) -> str:
    key = key.strip()
    if not KEY_PATTERN.match(key):
        raise InvalidInput(f"pathway key '{key}' is not allowed: use 2 to 80 lower-case letters, digits and "
                           f"underscores, starting with a letter (e.g. suivi_plaie)", {"key": "identifiant invalide"})
    return key


def renamed(bpmn: bytes, filename: str, *, key: str | None, title: str | None) -> bytes:
    """The BPMN with its main process renamed (id everywhere it is referenced, and/or name)."""
    root = parse_xml(bpmn, filename)
    process = _main_process(root)
    if process is None or (not key and not title):
        return bpmn
    old = process.get("id") or ""
    if key and key != old:
        process.set("id", key)
        for node in root.xpath("//bpmn:participant[@processRef=$k]", namespaces=NS, k=old):
            node.set("processRef", key)
        for node in root.iter(etree.Element):
            if node.get("bpmnElement") == old:
                node.set("bpmnElement", key)
    if title:
        process.set("name", title)
        for node in root.xpath("//bpmn:participant[@processRef=$k]", namespaces=NS, k=process.get("id")):
            node.set("name", title)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def referenced_form_keys(root: etree._Element) -> dict[str, str]:
    """Form key -> id of the first user task that names it."""
    keys: dict[str, str] = {}
    for task in root.xpath("//bpmn:userTask", namespaces=NS):
        for value in task.xpath(".//spiffworkflow:property[@name='form']/@value", namespaces=NS):
            keys.setdefault(str(value), task.get("id") or "-")
    return keys


def normalised_forms(forms: Any) -> dict[str, Any]:
    """Forms as sent by the editor: form key -> JSON Schema object, or its text when it is not valid JSON yet
    (kept so the work is not lost; validation then says what is wrong)."""
    if forms is None:
        return {}
    if not isinstance(forms, dict):
        raise InvalidInput("forms must be an object: form key -> JSON Schema", {"forms": "objet attendu"})
    out: dict[str, Any] = {}
    for key, value in forms.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 120:
            raise InvalidInput(f"form key {key!r} is not allowed", {"forms": "clé de formulaire invalide"})
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                pass  # kept as text
        elif not isinstance(value, dict | list | int | float | bool) and value is not None:
            raise InvalidInput(f"form '{key}' must be a JSON Schema", {"forms": "schéma JSON attendu"})
        out[key.strip()] = value
    return out


def form_text_problems(filename: str, forms: dict[str, Any], tasks_by_form: dict[str, str]) -> list[Problem]:
    """A located problem for each form referenced by a user task whose text is not valid JSON."""
    problems = []
    for key, value in forms.items():
        if isinstance(value, str) and key in tasks_by_form:
            try:
                json.loads(value)
            except json.JSONDecodeError as exc:
                problems.append(Problem(filename, tasks_by_form[key], f"form '{key}' is not valid JSON "
                                                                     f"(line {exc.lineno}, column {exc.colno}: "
                                                                     f"{exc.msg})"))
    return problems


@dataclass(frozen=True)
class EditorCatalogue:
    """What the properties panel offers by name: roles (lanes, recipients) and message templates."""

    roles: list[tuple[str, str]]  # (code, French label)
    templates: list[str]


def editor_catalogue(templates_dir: Path | None = None) -> EditorCatalogue:
    roles = [(r.code, r.label_fr) for r in db.session.scalars(select(Role).order_by(Role.code))]
    return EditorCatalogue(roles, template_keys(templates_dir or DEFAULT_TEMPLATES_DIR))


def form_schema(text: str) -> dict[str, Any]:
    """A form's JSON Schema from the editor's text, or InvalidInput saying (in French) what is wrong."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"JSON invalide (ligne {exc.lineno}, colonne {exc.colno}) : {exc.msg}") from None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        raise InvalidInput('le formulaire doit décrire un objet : {"type": "object", "properties": {...}}')
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "racine"
        raise InvalidInput(f"schéma JSON invalide ({where}) : {exc.message}") from None
    except (TypeError, ValueError, LookupError) as exc:
        raise InvalidInput(f"schéma JSON invalide : {exc}") from None
    return schema
