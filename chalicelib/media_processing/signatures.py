"""Magic-byte checks: whether the leading bytes of an upload match its declared type."""

from __future__ import annotations

SNIFF_BYTES = 64
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
_EBML_DOC_TYPE_ID = 0x4282
# Top-level atoms a QuickTime file may start with; files older than the ftyp atom have no ftyp.
_QUICKTIME_LEADING_ATOMS = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


def base_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _is_iso_media(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_quicktime(head: bytes) -> bool:
    # MP4 and QuickTime share one container; phones label them loosely, and decoding is the real test.
    return head[4:8] in _QUICKTIME_LEADING_ATOMS


def _is_webm(head: bytes) -> bool:
    return head.startswith(_EBML_MAGIC) and _ebml_doc_type(head) == b"webm"


def _ebml_doc_type(head: bytes) -> bytes | None:
    try:
        header_size, position = _read_ebml_vint(head, len(_EBML_MAGIC), keep_marker=False)
        end = min(position + header_size, len(head))
        while position < end:
            element_id, position = _read_ebml_vint(head, position, keep_marker=True)
            size, position = _read_ebml_vint(head, position, keep_marker=False)
            if element_id == _EBML_DOC_TYPE_ID:
                return head[position : position + size]
            position += size
    except IndexError:
        return None
    return None


def _read_ebml_vint(data: bytes, position: int, *, keep_marker: bool) -> tuple[int, int]:
    first = data[position]
    width = 9 - first.bit_length()
    if width > 8:
        raise IndexError("invalid EBML variable-length integer")
    value = first if keep_marker else first & (0xFF >> width)
    for byte in data[position + 1 : position + width]:
        value = value << 8 | byte
    return value, position + width


SIGNATURE_CHECKS = {
    "image/jpeg": lambda head: head.startswith(b"\xff\xd8\xff"),
    "image/png": lambda head: head.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/gif": lambda head: head[:6] in (b"GIF87a", b"GIF89a"),
    "image/webp": lambda head: head[:4] == b"RIFF" and head[8:12] == b"WEBP",
    "video/mp4": _is_iso_media,
    "video/quicktime": _is_quicktime,
    "video/webm": _is_webm,
}
