"""Tests for engine.bpmn.xml_safety: hostile uploads are refused, legitimate BPMN/DMN files parse."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn import xml_safety
from engine.bpmn.xml_safety import DOCTYPE_REASON, MAX_XML_BYTES, parse_xml
from engine.errors import PathwayDefinitionError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
MIWG_CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "miwg"

MINIMAL_BPMN = f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{BPMN_NS}" id="defs" targetNamespace="https://parcours.example/test">
  <process id="p" isExecutable="true">
    <documentation>Minimal pathway</documentation>
    <startEvent id="start"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="end"/>
    <endEvent id="end"/>
  </process>
</definitions>
""".encode()

BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE definitions [\n <!ENTITY lol "lol">\n'
    + b"".join(
        b' <!ENTITY lol%d "%s">\n' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10)
    )
    + f']>\n<definitions xmlns="{BPMN_NS}"><documentation>&lol9;</documentation></definitions>\n'.encode()
)


def xxe_document(target: str) -> bytes:
    return (
        f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "{target}">]>\n'
        f'<definitions xmlns="{BPMN_NS}" id="defs"><process id="p"><documentation>&x;</documentation>'
        "</process></definitions>\n"
    ).encode()


def refusal(data: bytes, filename: str = "upload.bpmn") -> str:
    """Parse `data`, expect a refusal, and return its single reason (checking the Problem fields)."""
    with pytest.raises(PathwayDefinitionError) as info:
        parse_xml(data, filename)
    (problem,) = info.value.problems
    assert problem.file == filename
    assert problem.element_id == "-"
    assert str(problem) in str(info.value)
    return problem.reason


@pytest.fixture(params=["byte-scan", "parser-only"])
def defence(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the pre-parse byte scan on, then off, so the hardened parser is tested on its own too."""
    if request.param == "parser-only":
        monkeypatch.setattr(xml_safety, "_DTD_MARKERS", ())
    return request.param


@pytest.fixture()
def listener() -> Iterator[socket.socket]:
    """A TCP listener on a free local port; a connection to it means the parser went to the network."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def assert_no_connection(server: socket.socket) -> None:
    try:
        connection, peer = server.accept()
    except BlockingIOError:
        return
    connection.close()
    pytest.fail(f"the parser connected to the network (from {peer})")


# --- legitimate files -------------------------------------------------------------------------------------


def test_minimal_bpmn_parses() -> None:
    root = parse_xml(MINIMAL_BPMN, "minimal.bpmn")
    assert root.tag == f"{{{BPMN_NS}}}definitions"
    assert root.find(f"{{{BPMN_NS}}}process").get("id") == "p"


@pytest.mark.parametrize(
    "namespace",
    [
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    ],
)
def test_dmn_roots_parse(namespace: str) -> None:
    data = f'<definitions xmlns="{namespace}" id="d" name="d"><decision id="x"/></definitions>'.encode()
    assert parse_xml(data, "rules.dmn").tag == f"{{{namespace}}}definitions"


def test_comments_and_processing_instructions_are_kept() -> None:
    data = MINIMAL_BPMN.replace(b"<process", b"<!-- keep me --><?tool keep?><process", 1)
    root = parse_xml(data, "minimal.bpmn")
    assert b"<!-- keep me -->" in etree.tostring(root)


def test_file_exactly_at_the_limit_is_accepted() -> None:
    data = MINIMAL_BPMN + b" " * (MAX_XML_BYTES - len(MINIMAL_BPMN))
    assert len(data) == MAX_XML_BYTES
    assert parse_xml(data, "big.bpmn").tag == f"{{{BPMN_NS}}}definitions"


def _corpus_params() -> list[object]:
    files = sorted(MIWG_CORPUS.glob("*.bpmn"))
    if not files:  # the corpus is part of the repository: its absence is a failure
        return [pytest.param(None, id="corpus-missing")]
    return [pytest.param(path, id=path.name) for path in files]


@pytest.mark.parametrize("path", _corpus_params())
def test_miwg_reference_models_parse(path: Path | None) -> None:
    assert path is not None, f"MIWG corpus not found at {MIWG_CORPUS}"
    root = parse_xml(path.read_bytes(), path.name)
    assert root.tag == f"{{{BPMN_NS}}}definitions"


# --- refusals ---------------------------------------------------------------------------------------------


def test_external_entity_is_refused_and_never_read(defence: str) -> None:
    passwd_lines = [line for line in Path("/etc/passwd").read_text().splitlines() if line.strip()]
    with pytest.raises(PathwayDefinitionError) as info:
        parse_xml(xxe_document("file:///etc/passwd"), "xxe.bpmn")
    assert info.value.problems[0].reason == DOCTYPE_REASON
    everything = " ".join([str(info.value), repr(info.value), *map(repr, info.value.problems)])
    for line in passwd_lines:
        assert line not in everything
    assert "root:" not in everything


def test_billion_laughs_is_refused_quickly(defence: str) -> None:
    started = time.perf_counter()
    reason = refusal(BILLION_LAUGHS, "laughs.bpmn")
    elapsed = time.perf_counter() - started
    print(f"billion laughs refused in {elapsed * 1000:.2f} ms ({defence})")
    assert elapsed < 1.0
    if defence == "byte-scan":
        assert reason == DOCTYPE_REASON
    else:  # libxml2 itself stops the expansion (or we refuse the DTD after parsing)
        assert reason == DOCTYPE_REASON or "amplification" in reason or "loop" in reason


def test_oversized_file_is_refused_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser() -> None:
        raise AssertionError("an oversized file reached the XML parser")

    monkeypatch.setattr(xml_safety, "_make_parser", no_parser)
    data = MINIMAL_BPMN + b" " * (20 * 1024 * 1024 - len(MINIMAL_BPMN))
    assert refusal(data, "huge.bpmn") == "file is 20.0 MB, the limit is 5 MB"
    assert refusal(b"x" * (MAX_XML_BYTES + 1), "huge.bpmn") == "file is 5.0 MB, the limit is 5 MB"


def test_malformed_xml_reports_line_and_column() -> None:
    data = f'<definitions xmlns="{BPMN_NS}">\n  <process id="p">\n    <task>\n  </process>\n</definitions>\n'.encode()
    reason = refusal(data, "broken.bpmn")
    assert reason.startswith("malformed XML at line 4, column ")
    assert "Opening and ending tag mismatch" in reason
    assert reason.count("line 4") == 1  # libxml2's own ", line N, column M" suffix is not repeated


def test_undeclared_entity_is_malformed() -> None:
    data = f'<definitions xmlns="{BPMN_NS}"><documentation>&x;</documentation></definitions>'.encode()
    assert refusal(data).startswith("malformed XML at line 1, column ")


@pytest.mark.parametrize("data", [b"", b"   \n\t "], ids=["empty", "whitespace"])
def test_empty_file_is_refused(data: bytes) -> None:
    assert refusal(data) == "file is empty"


@pytest.mark.parametrize(
    ("data", "root"),
    [
        (b"<html><body/></html>", "html"),
        (b'<definitions xmlns="http://example.com/other"/>', "{http://example.com/other}definitions"),
        (f'<process xmlns="{BPMN_NS}"/>'.encode(), f"{{{BPMN_NS}}}process"),
        (b"<definitions/>", "definitions"),
    ],
)
def test_wrong_root_element_is_refused(data: bytes, root: str) -> None:
    assert refusal(data) == f"not a BPMN 2.0 or DMN file (root element is {root})"


def test_external_dtd_reference_is_refused_without_network(defence: str, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    for doctype in (
        '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/x.dtd">',
        f'<!DOCTYPE d SYSTEM "http://127.0.0.1:{port}/x.dtd">',
        f'<!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p.dtd"> %p;]>',
        f'<!DOCTYPE d [<!ENTITY x SYSTEM "http://127.0.0.1:{port}/x.xml">]>',
    ):
        body = "&x;" if "ENTITY x" in doctype else ""
        data = f'<?xml version="1.0"?>\n{doctype}\n<definitions xmlns="{BPMN_NS}">{body}</definitions>'.encode()
        reason = refusal(data, "dtd.bpmn")
        assert reason == DOCTYPE_REASON or reason.startswith("malformed XML"), reason
    assert_no_connection(listener)


def test_listener_detects_a_connection(listener: socket.socket) -> None:
    """Guard for the test above: the listener really sees a connection attempt."""
    with socket.create_connection(listener.getsockname(), timeout=1):
        time.sleep(0.05)
        with pytest.raises(pytest.fail.Exception):
            assert_no_connection(listener)


def test_bare_doctype_is_refused_after_parsing(defence: str) -> None:
    data = MINIMAL_BPMN.replace(b"<definitions", b"<!DOCTYPE definitions>\n<definitions", 1)
    assert refusal(data) == DOCTYPE_REASON


def test_utf16_doctype_is_caught_by_the_byte_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parser() -> None:
        raise AssertionError("a UTF-16 DOCTYPE reached the XML parser")

    monkeypatch.setattr(xml_safety, "_make_parser", no_parser)
    text = BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"', 1)
    assert refusal(text.encode("utf-16")) == DOCTYPE_REASON


def test_utf16_bpmn_without_doctype_parses() -> None:
    text = MINIMAL_BPMN.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"', 1)
    assert parse_xml(text.encode("utf-16"), "wide.bpmn").tag == f"{{{BPMN_NS}}}definitions"


def test_str_input_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        parse_xml(MINIMAL_BPMN.decode(), "minimal.bpmn")  # type: ignore[arg-type]
