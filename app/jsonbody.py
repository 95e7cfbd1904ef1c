"""Strict JSON bodies: UTF-8 only, no NaN or Infinity, bounded nesting."""

import json

from app.errors import ApiError

MAX_DEPTH = 64


def _refuse_constant(name):
    raise ValueError(f"{name} is not JSON")


# What json.loads(text, parse_constant=...) builds on every call, built once.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _depth(value, limit):
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


def loads(data):
    """The decoded body, or a General400 that says what is wrong with it."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise ApiError(400, "Invalid request: body: not valid UTF-8") from exc
    try:
        value = _DECODER.decode(text)
    except RecursionError as exc:
        raise ApiError(400, "Invalid request: body: nested too deeply") from exc
    except ValueError as exc:
        raise ApiError(400, "Invalid request: body: not a valid JSON document") from exc
    if not _depth(value, MAX_DEPTH):
        raise ApiError(400, f"Invalid request: body: nested deeper than {MAX_DEPTH} levels")
    return value
