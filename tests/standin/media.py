"""Just enough file handling to answer sendPhoto/sendDocument like Telegram.

Why: Telegram rejects a "photo" that is not an image (``IMAGE_PROCESS_FAILED``) and reports the
photo's real size in the PhotoSize array; a bot that sends a broken chart should fail here too.
"""

from __future__ import annotations

import mimetypes
import struct
from dataclasses import dataclass, field

# Telegram's limit for files uploaded by bots through the public Bot API server.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_PHOTO_SIZE = (800, 600)
# sendPhoto's documented limits: at most 10 MB, width + height at most 10000, ratio at most 20.
MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_SIDES = 10_000
MAX_PHOTO_RATIO = 20


def photo_problem(size: int, width: int, height: int) -> str | None:
    """Why Telegram would refuse this photo upload, or None."""
    if size > MAX_PHOTO_BYTES:
        return "PHOTO_SAVE_FILE_INVALID"
    if width + height > MAX_PHOTO_SIDES or max(width, height) > MAX_PHOTO_RATIO * min(width, height):
        return "PHOTO_INVALID_DIMENSIONS"
    return None


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        return len(self.data)


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) of a PNG, GIF, JPEG, WebP or BMP image; ``None`` if it is not one."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data) or DEFAULT_PHOTO_SIZE
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return DEFAULT_PHOTO_SIZE
    if data.startswith(b"BM") and len(data) >= 26:
        width, height = struct.unpack("<ii", data[18:26])
        return abs(int(width)), abs(int(height))
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk JPEG segments to the first start-of-frame marker."""
    index = 2
    while index + 9 < len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        length = struct.unpack(">H", data[index + 2 : index + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None


def guess_mime_type(filename: str | None, declared: str | None) -> str:
    """The declared type unless it is the generic default, else a guess from the name."""
    if declared and declared != "application/octet-stream":
        return declared
    guessed = mimetypes.guess_type(filename or "")[0]
    return guessed or "application/octet-stream"
