"""The catalogue as XML, for box middleware that reads XML: the JSON document, element for field.

Each JSON key becomes an element of the same name; a list becomes a container whose items are
elements named by ITEM_NAMES (``<courses><course>…``); ``null`` is an empty element with
``nil="true"``; booleans are ``true``/``false``. No DTD, no entities: ElementTree escapes the
text, and characters XML 1.0 cannot carry at all (control characters) are dropped first.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

MIMETYPE = "application/xml"
ITEM_NAMES = {"categories": "category", "courses": "course", "lessons": "lesson", "removed": "item"}
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # a parser turns CR and CRLF into LF anyway: say so ourselves, so what we send is what is read
    return _NOT_XML.sub("", str(value)).replace("\r\n", "\n").replace("\r", "\n")


def _fill(parent: ET.Element, key: str, value: Any) -> None:
    element = ET.SubElement(parent, key)
    if value is None:
        element.set("nil", "true")
    elif isinstance(value, dict):
        for k, v in value.items():
            _fill(element, k, v)
    elif isinstance(value, list | tuple):
        name = ITEM_NAMES.get(key, "item")
        for item in value:
            _fill(element, name, item)
    else:
        element.text = text(value)


def document(doc: dict, root: str = "catalog") -> bytes:
    """UTF-8 XML with a declaration; `doc` is the JSON catalogue document."""
    element = ET.Element(root)
    for key, value in doc.items():
        _fill(element, key, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)
