"""Files handed to a browser: personal documents (invoices, data downloads) are attachments no cache keeps."""

from __future__ import annotations

from starlette.responses import Response


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
