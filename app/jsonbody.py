"""Strict JSON bodies: UTF-8 only, no NaN or Infinity, bounded nesting, storable text."""

import json
import re

from werkzeug.exceptions import RequestEntityTooLarge

from app.exceptions import ApiError

MAX_DEPTH = 64


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


# The one strict decoder of the service (request bodies here, stored data converted by the
# 6.20 dialect): what json.loads(text, parse_constant=...) builds on every call, built once.
DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def within_depth(value, limit=MAX_DEPTH):
    """Whether value nests no deeper than limit levels (a scalar is one level)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
    return True


def read_body(req):
    """The request's body, or the documented 413 when it is larger than MAX_CONTENT_LENGTH.

    A body with a Content-Length over the limit is refused before it is read (Werkzeug).
    A chunked one is read through a stream that stops at the limit and returns what it
    has, silently cut: one byte more from the server's input tells a cut body from one
    of exactly the limit, and nothing past that byte is read."""
    data = req.get_data(cache=True)
    limit = req.max_content_length
    if limit is not None and req.content_length is None and len(data) >= limit:
        if req.environ["wsgi.input"].read(1):
            raise RequestEntityTooLarge()
    return data


def loads(data):
    """The decoded body, or a General400 that says what is wrong with it."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Invalid request: body: not valid UTF-8") from exc
    try:
        value = DECODER.decode(text)
    except RecursionError as exc:
        raise ApiError(400, "Invalid request: body: nested too deeply") from exc
    except ValueError as exc:
        raise ApiError(400, "Invalid request: body: not a valid JSON document") from exc
    if not within_depth(value):
        raise ApiError(400, f"Invalid request: body: nested deeper than {MAX_DEPTH} levels")
    return value


# Text a database cannot hold as it was sent: PostgreSQL refuses U+0000 in text (SQLite
# would store it), and an unpaired surrogate has no UTF-8 form. Refused where the text
# enters, so both databases answer the same General400. Strict JSON can only carry such
# text as a \u escape, so a body without one is not walked at all (a producer batch may
# hold a hundred thousand point keys).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")
UNSTORABLE_PROBLEM = "text must not hold U+0000 or an unpaired surrogate"


def _unstorable(item):
    """The path (keys and list indexes) down to the first unstorable string or object key
    in item, or None. The depth is bounded by MAX_DEPTH, checked before."""
    if isinstance(item, str):
        return [] if UNSTORABLE.search(item) else None
    if isinstance(item, dict):
        for key, child in item.items():
            if UNSTORABLE.search(key):
                return []
            below = _unstorable(child)
            if below is not None:
                return [key, *below]
    elif isinstance(item, list):
        for index, child in enumerate(item):
            below = _unstorable(child)
            if below is not None:
                return [str(index), *below]
    return None


def unstorable_field(value, raw=None):
    """The dotted name of the first field of value (as the validation messages name
    fields: list items by index; "body" for the whole) holding unstorable text, or None.
    raw, the JSON bytes value was decoded from, lets a body without escapes pass at once."""
    if raw is not None and not _SUSPECT_ESCAPE.search(raw):
        return None
    path = _unstorable(value)
    if path is None:
        return None
    return ".".join(path) or "body"


def check_storable(value, raw=None):
    """A General400 naming the first field whose text the database cannot store."""
    field = unstorable_field(value, raw)
    if field is not None:
        raise ApiError(400, f"Invalid request: {field}: {UNSTORABLE_PROBLEM}")
