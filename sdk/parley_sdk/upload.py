"""The multipart POST of a file to an S3 presigned-POST slot, with progress reporting."""

from collections.abc import Callable
from typing import BinaryIO

import aiohttp

from .errors import ParleyError

ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(sent, total)``: bytes of the request body sent so far, out of its size."""


async def post_presigned(
    url: str,
    fields: dict[str, str],
    file: BinaryIO,
    filename: str,
    content_type: str,
    progress: ProgressCallback | None = None,
) -> None:
    """POST ``fields`` and then ``file`` (S3 ignores fields after the file) as ``multipart/form-data``."""
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    form.add_field("file", file, filename=filename, content_type=content_type)
    body = form()

    tracing = aiohttp.TraceConfig()
    if progress is not None:
        sent, total = 0, body.size
        assert total is not None  # fields and a file: a form aiohttp can measure

        async def report_chunk(session, context, chunk_sent: aiohttp.TraceRequestChunkSentParams) -> None:
            nonlocal sent
            sent += len(chunk_sent.chunk)
            progress(sent, total)

        tracing.on_request_chunk_sent.append(report_chunk)

    # A session of its own: the upload goes to S3, which must not see our Authorization header.
    # No limit on the whole POST, which takes as long as the file needs; only on silence.
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60)
    async with (
        aiohttp.ClientSession(timeout=timeout, trace_configs=[tracing]) as session,
        session.post(url, data=body) as response,
    ):
        if response.status >= 300:
            raise ParleyError.from_http(response.status, await response.text())
