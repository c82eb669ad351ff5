"""Safe loading of untrusted BPMN/DMN XML: size limit, no DTD/entities, no network, root element check."""

from __future__ import annotations

import re

from lxml import etree

from engine.errors import PathwayDefinitionError, Problem

MAX_XML_BYTES: int = 5 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DMN_NAMESPACES: tuple[str, ...] = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",  # DMN 1.3
    "http://www.omg.org/spec/DMN/20180521/MODEL/",  # DMN 1.2
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",  # DMN 1.1
)
ACCEPTED_ROOTS: frozenset[str] = frozenset(f"{{{ns}}}definitions" for ns in (BPMN_NS, *DMN_NAMESPACES))

DOCTYPE_REASON = "DOCTYPE declarations are not allowed (external entities and entity expansion are refused)"

# Markup that may only appear in a DTD. Searched in every encoding libxml2 auto-detects from the first bytes
# (ASCII-compatible, UTF-16, UTF-32), so a file cannot hide a declaration behind a wide encoding.
_DTD_MARKERS: tuple[bytes, ...] = tuple(
    marker.encode(encoding)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("ascii", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)

_POSITION_SUFFIX = re.compile(r",\s*line \d+, column \d+\s*$")


def _refuse(filename: str, reason: str) -> PathwayDefinitionError:
    return PathwayDefinitionError([Problem(file=filename, element_id="-", reason=reason)])


def _make_parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers keep state (error log) and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,  # never substitute entities (no XXE, no expansion)
        no_network=True,  # never fetch anything over the network
        load_dtd=False,  # never load an external DTD
        dtd_validation=False,
        huge_tree=False,  # keep libxml2's limits on depth, text size and entity amplification
        remove_comments=False,
        remove_pis=False,
        remove_blank_text=False,
        strip_cdata=False,
    )


def parse_xml(data: bytes, filename: str) -> etree._Element:
    """Parse an uploaded BPMN/DMN file, or raise PathwayDefinitionError saying why it was refused."""
    if not isinstance(data, bytes):
        raise TypeError(f"parse_xml expects bytes, got {type(data).__name__}")
    size = len(data)
    if size > MAX_XML_BYTES:
        raise _refuse(
            filename, f"file is {size / (1024 * 1024):.1f} MB, the limit is {MAX_XML_BYTES / (1024 * 1024):g} MB"
        )
    if not data.strip():
        raise _refuse(filename, "file is empty")
    # Cheap pre-parse check, so entity declarations (billion laughs, XXE) never reach the parser.
    if any(marker in data for marker in _DTD_MARKERS):
        raise _refuse(filename, DOCTYPE_REASON)

    try:
        # The parser is hardened above (no entity resolution, no DTD loading, no network, no huge trees).
        root = etree.fromstring(data, _make_parser())  # noqa: S320
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 0, 0)
        message = _POSITION_SUFFIX.sub("", (exc.msg or str(exc)).strip()) or "syntax error"
        raise _refuse(filename, f"malformed XML at line {line}, column {column}: {message}") from None
    except ValueError as exc:  # e.g. an unsupported encoding declaration
        raise _refuse(filename, f"malformed XML: {exc}") from None

    # Authoritative check after parsing, in case a declaration slipped past the byte scan.
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise _refuse(filename, DOCTYPE_REASON)

    if root.tag not in ACCEPTED_ROOTS:
        raise _refuse(filename, f"not a BPMN 2.0 or DMN file (root element is {root.tag})")
    return root
