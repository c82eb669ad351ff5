"""The layering, as a failing check: SpiffWorkflow stays in engine/bpmn, the engine knows nothing of web or jobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "tasks", "webapp")
# Alembic's env.py runs inside Flask-Migrate and reads the app's engine: the one engine file allowed to use Flask.
FLASK_ALLOWED_IN_ENGINE = {"engine/migrations/env.py"}
WEB_OR_JOBS = ("flask", "flask_login", "flask_wtf", "celery", "kombu", "webapp", "tasks")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _python_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (REPO / package).rglob("*.py"))


def _top(module: str) -> str:
    return module.split(".", 1)[0]


@pytest.mark.parametrize("path", _python_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_spiffworkflow_is_imported_only_in_engine_bpmn(path: Path) -> None:
    relative = path.relative_to(REPO).as_posix()
    uses_spiff = any(_top(m) == "SpiffWorkflow" for m in _imports(path))
    assert not uses_spiff or relative.startswith("engine/bpmn/"), f"{relative} imports SpiffWorkflow"


@pytest.mark.parametrize("path", sorted((REPO / "engine").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_engine_never_imports_web_or_jobs(path: Path) -> None:
    relative = path.relative_to(REPO).as_posix()
    if relative in FLASK_ALLOWED_IN_ENGINE:
        return
    leaks = sorted(m for m in _imports(path) if _top(m) in WEB_OR_JOBS)
    assert not leaks, f"{relative} imports {', '.join(leaks)}: the engine takes its actor and clock as parameters"


# The jobs call engine services: never the BPMN layer or the models directly, never the web app (only the
# worker's entry point builds the Flask app, as pallets/flask's examples/celery make_celery.py does).
WEBAPP_ALLOWED_IN_TASKS = {"tasks/worker.py"}
ENGINE_MODULES_FOR_TASKS = ("engine.services", "engine.notify", "engine.clock", "engine.db", "engine.errors",
                            "engine.types")  # engine.notify: channel and settings factories for reminder jobs


@pytest.mark.parametrize("path", sorted((REPO / "tasks").rglob("*.py")), ids=lambda p: str(p.relative_to(REPO)))
def test_jobs_call_engine_services_only(path: Path) -> None:
    relative = path.relative_to(REPO).as_posix()
    imports = _imports(path)
    below_services = sorted(m for m in imports if _top(m) == "engine" and m != "engine"
                            and not m.startswith(ENGINE_MODULES_FOR_TASKS))
    assert not below_services, f"{relative} imports {', '.join(below_services)}: call an engine service instead"
    web = sorted(m for m in imports if _top(m) == "webapp")
    assert not web or relative in WEBAPP_ALLOWED_IN_TASKS, f"{relative} imports {', '.join(web)}"
