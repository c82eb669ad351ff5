"""French first, English available: every string of the interface has its English translation, compiled."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEBAPP = Path(__file__).resolve().parents[2] / "webapp"
CATALOGUE = WEBAPP / "translations" / "en" / "LC_MESSAGES"
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def _interface_strings() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
            str(WEBAPP), METHODS, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None,
                                            "_l": None}):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalogue(path: Path, reader) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        catalogue = reader(handle)
    return {(m.id if isinstance(m.id, str) else m.id[0]): (m.string if isinstance(m.string, str) else m.string[0])
            for m in catalogue if m.id}


def test_every_interface_string_has_an_english_translation():
    po = _catalogue(CATALOGUE / "messages.po", read_po)
    missing = sorted(s for s in _interface_strings() if not po.get(s))
    assert missing == [], ("untranslated strings: run the commands of webapp/translations/README.md and fill "
                           f"messages.po: {missing}")


def test_the_compiled_catalogue_is_up_to_date():
    po = {k: v for k, v in _catalogue(CATALOGUE / "messages.po", read_po).items() if v}
    mo = _catalogue(CATALOGUE / "messages.mo", read_mo)
    assert {k: mo.get(k) for k in po} == po, "messages.mo is stale: run `pybabel compile -d webapp/translations`"
