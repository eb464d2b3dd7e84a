"""Image input (GA, 2026): an ``input_image`` part must carry a PNG or JPEG as a base64 data URI.

Per the SDK (``realtime_conversation_item_user_message.py``): ``image_url`` is a data URI, PNG or
JPEG only, ``detail`` is ``auto``/``low``/``high``. A remote URL, another image type or broken
base64 is refused; the wording and code are the replay server's own (unconfirmed).
"""

from __future__ import annotations

import base64
import binascii
import re

from .validation import ClientError

__all__ = ["check_images"]

_DATA_URI = re.compile(r"^data:image/(png|jpeg);base64,(.*)$", re.S)
_MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "jpeg": b"\xff\xd8\xff"}


def check_images(item: dict) -> None:
    """Refuse an ``input_image`` part of `item` that is not a decodable PNG or JPEG data URI."""
    for index, part in enumerate(item.get("content") or []):
        if not isinstance(part, dict) or part.get("type") != "input_image":
            continue
        param = f"item.content[{index}].image_url"
        url = part.get("image_url")
        match = _DATA_URI.match(url) if isinstance(url, str) else None
        if match is None:
            shown = url[:40] + "..." if isinstance(url, str) and len(url) > 40 else url
            raise ClientError("invalid_image_url", f"Invalid '{param}': expected a data URI of a PNG or JPEG image "
                              f"(data:image/png;base64,...), got {shown!r}. Remote URLs are not supported.", param)
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise ClientError("invalid_image_url", f"Invalid '{param}': the base64 data does not decode.", param) from None
        if not data.startswith(_MAGIC[match.group(1)]):
            raise ClientError("invalid_image_url", f"Invalid '{param}': the data is not a {match.group(1).upper()} image.",
                              param)
