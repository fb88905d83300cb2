"""Files handed to a browser: personal documents (invoices, data downloads) are attachments no cache keeps."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from conference.core import errors
from conference.core.models import Invoice
from conference.invoices import invoicing
from conference.web.request import database, settings


def private_file(content: bytes, filename: str, media_type: str) -> Response:
    """A download that carries someone's data: saved under `filename`, never stored by a shared cache."""
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "private, no-store",
        },
    )


async def invoice_pdf(request: Request, *, owned: Callable[[Invoice], bool], not_owned: str) -> Response:
    """An invoice's PDF from a personal link (the delegate's or the group lead's): another's id is not found."""
    try:
        invoice_id = uuid.UUID(request.path_params["invoice_id"])
    except ValueError:
        raise errors.NotFound("No invoice has this id.") from None
    async with database(request).read() as db:
        invoice, pdf = await invoicing.pdf_for(db, settings(request), invoice_id)
    if not owned(invoice):
        raise errors.NotFound(not_owned)
    return private_file(pdf, f"{invoice.number}.pdf", "application/pdf")
