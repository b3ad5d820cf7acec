"""Request body decoding and response encoding: JSON, and XML on legacy endpoints.

XML is the legacy v1.1/v2 dialect: the root element names the object, each
scalar field is a child element, and a list holds one element per item.
Request XML is parsed with defusedxml: no DTD, no entities, no external
references, and a bounded depth.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

import defusedxml
import defusedxml.ElementTree

from keypairs_ext.host.contract import Invalid

JSON = "application/json"
XML = "application/xml"
XML_TYPES = (XML, "text/xml")
XML_NAMESPACE = "http://docs.openstack.org/compute/api/v1.1"
MAX_XML_DEPTH = 32

# Fields written as XML attributes, by element name (the historic
# extension record put its identity in attributes).
XML_ATTRIBUTES = {"extension": ("name", "namespace", "alias", "updated")}
XML_ROOT_NAMESPACES = {
    "extensions": "http://docs.openstack.org/common/api/v1.0",
    "extension": "http://docs.openstack.org/common/api/v1.0",
}


_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")
_NOT_XML_CHAR = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class UnsupportedMediaType(Exception):
    """The body's Content-Type is not one the endpoint reads."""


def choose_response_type(accept: str | None, legacy: bool) -> str:
    """JSON unless a legacy request prefers XML."""
    if not legacy or not accept:
        return JSON
    best = None
    best_quality = -1.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        media = media.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media in (JSON, *XML_TYPES) and quality > best_quality:
            best, best_quality = media, quality
    return XML if best in XML_TYPES else JSON


def decode_body(raw: bytes, content_type: str | None, legacy: bool) -> Any:
    """The request body as Python data; None when empty."""
    if not raw.strip():
        return None
    media = (content_type or JSON).split(";")[0].strip().lower()
    if media in XML_TYPES:
        if not legacy:
            raise UnsupportedMediaType(f"Unsupported Content-Type {media}")
        return _decode_xml(raw)
    if media not in (JSON, "application/octet-stream", "text/plain", ""):
        raise UnsupportedMediaType(f"Unsupported Content-Type {media}")
    return _decode_json(raw)


def _decode_json(raw: bytes) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Invalid("Malformed request body: the body is not valid UTF-8.") from exc
    try:
        return json.loads(text)
    except RecursionError as exc:
        raise Invalid("Malformed request body: JSON nested too deeply.") from exc
    except ValueError as exc:
        raise Invalid(f"Malformed request body: {exc}") from exc


def _decode_xml(raw: bytes) -> dict[str, Any]:
    try:
        root = defusedxml.ElementTree.fromstring(
            raw, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DefusedXmlException as exc:
        raise Invalid(
            "Malformed request body: XML with a DTD, entities or external "
            "references is not accepted."
        ) from exc
    except (ElementTree.ParseError, ValueError, LookupError) as exc:
        # LookupError: an XML declaration naming an encoding Python lacks
        raise Invalid(f"Malformed request body: {exc}") from exc
    return {_local(root.tag): _xml_value(root, 1)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_value(element: ElementTree.Element, depth: int) -> Any:
    if depth > MAX_XML_DEPTH:
        raise Invalid("Malformed request body: XML nested too deeply.")
    children = list(element)
    if not children:
        if element.attrib:
            return {_local(k): v for k, v in element.attrib.items()}
        return element.text or ""
    names = [_local(child.tag) for child in children]
    if len(children) > 1 and len(set(names)) == 1 and _local(element.tag) == names[0] + "s":
        return [_xml_value(child, depth + 1) for child in children]
    value = {_local(k): v for k, v in element.attrib.items()}
    for name, child in zip(names, children, strict=True):
        value[name] = _xml_value(child, depth + 1)
    return value


def encode(body: Any, media: str, list_item: str | None = None) -> bytes:
    if media == XML:
        return _encode_xml(body, list_item)
    return json.dumps(body).encode("utf-8")


def _encode_xml(body: dict[str, Any], list_item: str | None) -> bytes:
    ((root_name, value),) = body.items()
    root = ElementTree.Element(root_name)
    root.set("xmlns", XML_ROOT_NAMESPACES.get(root_name, XML_NAMESPACE))
    _fill(root, value, list_item)
    return b"<?xml version='1.0' encoding='UTF-8'?>\n" + ElementTree.tostring(root)


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name + "_item"


def _fill(element: ElementTree.Element, value: Any, list_item: str | None = None) -> None:
    if isinstance(value, dict):
        attributes = XML_ATTRIBUTES.get(element.tag, ())
        for key, item in value.items():
            if key in attributes and not isinstance(item, dict | list):
                element.set(key, _text(item))
            elif _XML_NAME.fullmatch(key):
                child = ElementTree.SubElement(element, key)
                _fill(child, item)
            else:
                # Keys that are no XML name (user metadata, "OS-DCF:diskConfig")
                # become <meta key="...">, as the v1.1 XML wrote metadata.
                child = ElementTree.SubElement(element, "meta", key=_text(key))
                _fill(child, item)
    elif isinstance(value, list):
        item_name = list_item or _singular(element.tag)
        for item in value:
            if isinstance(item, dict) and len(item) == 1 and item_name in item:
                # {"keypair": {...}} list entries are already wrapped
                ((name, inner),) = item.items()
                child = ElementTree.SubElement(element, name)
                _fill(child, inner)
            else:
                child = ElementTree.SubElement(element, item_name)
                _fill(child, item)
    elif value is not None:
        element.text = _text(value)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # XML 1.0 cannot carry most control characters, even escaped.
    return _NOT_XML_CHAR.sub("\ufffd", str(value))
