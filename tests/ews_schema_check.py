"""Validates EWS requests and responses against the published schema.

Usage: ews_schema_check.py SCHEMA_DIR FILE...

Each FILE is one SOAP message as it went over the wire. Following the
schema README (../shared/fixtures/ews/schema/README.md), the schema is
loaded from a temporary copy in which types.xsd's import of the xml
namespace gets a local xml.xsd and ArrayOfTransitionsType, which libxml2
calls non-deterministic, is relaxed; each child of soap:Header and of
soap:Body is validated as a document of its own (the envelope is not in
the schema). SOAP faults are not described by the schema and are counted
apart. Prints one JSON object: the elements validated, by name, and the
errors, each with its file and the schema's message.
"""

import json
import os
import re
import shutil
import sys
import tempfile

from lxml import etree

SOAP = {"http://schemas.xmlsoap.org/soap/envelope/", "http://www.w3.org/2003/05/soap-envelope"}
XML_XSD = """<?xml version="1.0"?>
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="http://www.w3.org/XML/1998/namespace">
  <xs:attribute name="lang" type="xs:language"/>
</xs:schema>
"""


def load_schema(schema_dir):
    tmp = tempfile.mkdtemp(prefix="ews-schema-")
    for name in ("messages.xsd", "types.xsd"):
        shutil.copy(os.path.join(schema_dir, name), tmp)
    with open(os.path.join(tmp, "xml.xsd"), "w") as f:
        f.write(XML_XSD)
    path = os.path.join(tmp, "types.xsd")
    with open(path, encoding="utf-8-sig") as f:
        types = f.read()
    types = types.replace(
        '<xs:import namespace="http://www.w3.org/XML/1998/namespace"/>',
        '<xs:import namespace="http://www.w3.org/XML/1998/namespace" schemaLocation="xml.xsd"/>',
    )
    types = re.sub(
        r'(<xs:complexType name="ArrayOfTransitionsType">\s*)<xs:sequence>.*?</xs:sequence>',
        r'\1<xs:sequence><xs:any processContents="lax" minOccurs="0" maxOccurs="unbounded"/></xs:sequence>',
        types,
        flags=re.S,
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(types)
    # messages.xsd holds every element of both namespaces once it imports types.xsd.
    return etree.XMLSchema(etree.parse(os.path.join(tmp, "messages.xsd")))


# Exchange writes characters XML 1.0 forbids as references, and bytes that
# are no UTF-8, in names real mailboxes hold: they are no schema matter.
FORBIDDEN_REF = re.compile(rb"&#(x0*[0-8bBcCeEfF]|x0*1[0-9a-fA-F]|0*([0-8]|1[124-9]|2[0-9]|3[01]));")


def parse(data):
    data = FORBIDDEN_REF.sub(b"", data).decode("utf-8", errors="replace").encode("utf-8")
    return etree.fromstring(data, etree.XMLParser(resolve_entities=False, huge_tree=True))


def main():
    schema = load_schema(sys.argv[1])
    validated, faults, errors = {}, 0, []
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        try:
            envelope = parse(data)
        except etree.XMLSyntaxError as e:
            errors.append({"file": path, "error": f"not well-formed: {e}"})
            continue
        if etree.QName(envelope).namespace not in SOAP:
            errors.append({"file": path, "error": "not a SOAP envelope"})
            continue
        for part in envelope:
            if etree.QName(part).namespace not in SOAP:
                errors.append({"file": path, "error": f"{part.tag} in the envelope"})
                continue
            for element in part:
                if not isinstance(element.tag, str):
                    continue
                name = etree.QName(element)
                if name.namespace in SOAP and name.localname == "Fault":
                    faults += 1
                    continue
                document = etree.fromstring(etree.tostring(element))
                if schema.validate(document):
                    validated[name.localname] = validated.get(name.localname, 0) + 1
                else:
                    for entry in schema.error_log:
                        errors.append({"file": path, "element": name.localname, "error": entry.message})
    print(json.dumps({"validated": validated, "faults": faults, "errors": errors}, indent=1))


if __name__ == "__main__":
    main()
