"""The OpenAPI 3.1 document of the JSON API (every route under /api/v1), served at GET /api/v1/openapi.json.

The document is built from a table of operations: one row (`operation.Op`) per (method, path) with who may call
it, the query parameters the handler reads, the pydantic model it validates the body with, its success answers
and the errors it can give. The rows live by area in `registration_ops`, `programme_ops` and `checkin_ops`;
`builder` puts them together as OPERATIONS and builds the document. Request bodies come from the models
themselves (`model_json_schema`), so a changed field changes the document; answers without a model are
described by hand in `schemas.RESPONSES`, loosely (objects may carry more fields), so that what is written is
true. tests/conference/test_openapi.py fails when a route of the app has no row (or a row has no route), when
the document is not valid OpenAPI 3.1, or when a real answer does not match it; the fuzz test (tests/fuzz/)
runs every operation against a live server with schemathesis.
"""

from conference.server.openapi.builder import ERROR_TEXT, OPERATIONS, document, routes
from conference.server.openapi.schemas import RESPONSES

__all__ = ["ERROR_TEXT", "OPERATIONS", "RESPONSES", "document", "routes"]
