"""Every file of the BPMN MIWG test corpus either deploys or is refused with located Problems, never a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bpmn.validation import validate_pathway
from engine.errors import Problem

CORPUS = Path(__file__).resolve().parent / "miwg"  # the BPMN MIWG reference models, CC BY 3.0 (see its README)
ROLES = {
    "medecin_traitant", "chirurgien", "anesthesiste", "infirmier", "kinesitherapeute", "pharmacien",
    "dieteticien", "podologue", "cardiologue", "ophtalmologue", "coordinateur", "patient",
}


def corpus_files() -> list[Path]:
    # A missing corpus yields one placeholder case that fails (an empty parametrization would only skip).
    return sorted(CORPUS.glob("*.bpmn")) if CORPUS.is_dir() else [CORPUS / "MISSING.bpmn"]


def test_corpus_is_present() -> None:
    files = [p for p in corpus_files() if p.is_file()]
    assert files, f"no MIWG corpus: expected *.bpmn files in {CORPUS}"


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_miwg_file_deploys_or_is_refused_with_located_problems(path: Path) -> None:
    if not path.is_file():
        pytest.fail(f"MIWG corpus not found: looked for *.bpmn in {CORPUS}")
    compiled, problems = validate_pathway(path.read_bytes(), path.name, forms={}, dmn_files={}, known_roles=ROLES)
    if not problems:
        assert compiled is not None
        print(f"{path.name}: deployed ({compiled.key}, {len(compiled.elements)} elements)")
        return
    assert all(isinstance(p, Problem) for p in problems)
    for problem in problems:
        assert problem.file == path.name, problem
        assert problem.element_id, problem
        assert problem.reason, problem
    print(f"{path.name}: refused, {len(problems)} problem(s); first: {problems[0].element_id}: {problems[0].reason}")
