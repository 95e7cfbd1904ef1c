"""Answers written as they are read, in bounded memory, and a bound on how long a client
that stops reading can keep a worker thread writing to it.

A streamed answer has sent its status (200) before its last row is read. A failure after
that cannot become an error body any more: the error is logged and raised again, so the
server closes the connection with the answer incomplete (no closing bracket, and with
HTTP/1.1 no last chunk either). The client sees a truncated body, never one that parses as
a complete document.
"""

import json
from itertools import chain

from flask import Response, current_app, stream_with_context

from app.errors import operation_id, request_code

# Largest piece handed to the server at a time: a client must take one within SEND_TIMEOUT.
PIECE = 64 * 1024

# What Flask's JSON answers look like (app.json): keys sorted, no spaces, ASCII only.
_encoder = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, default=lambda value: value.isoformat()
)


def encode_items(items):
    """Items (dicts of JSON values and datetimes) as the members of a JSON array, comma
    separated, without the brackets ("" for none)."""
    return _encoder.encode(items)[1:-1]


def json_answer(conn, head, chunks, encode, tail):
    """A 200 JSON answer {head: [items...], <tail>} written piece by piece.

    head is the array's key, chunks an iterator of lists of rows read on conn, encode(rows)
    the array members of a list (encode_items of the mapped rows), tail a dict of the
    members after the array (their keys sort after head, as Flask sorts them). The first list is read here,
    before the status is decided, so a query that fails at once is an ordinary error
    answer; conn is closed when the answer ends, fails or is abandoned by the client (the
    caller closes it if this raises)."""
    pending = [next(chunks, [])]  # popped when written: the stream holds one list at a time

    def generate():
        sent = 0
        try:
            text, separator = "{" + _encoder.encode(head) + ":[", ""
            for rows in chain((pending.pop(),), chunks):
                members = encode(rows)
                if members:
                    text += separator + members
                    separator = ","
                for piece in _pieces(text):
                    sent += len(piece)
                    yield piece
                text = ""
            yield from _pieces("]," + _encoder.encode(tail)[1:] + "\n")
        except Exception:
            current_app.logger.error(
                "streamed answer aborted after %d bytes request_code=%s operation=%s",
                sent,
                request_code(),
                operation_id(),
                exc_info=True,
            )
            raise
        finally:
            chunks.close()
            conn.close()

    response = Response(stream_with_context(generate()), mimetype="application/json")
    response.call_on_close(chunks.close)  # also when the body is never read (a HEAD request)
    response.call_on_close(conn.close)
    return response


def _pieces(text):
    return [text[start : start + PIECE].encode("ascii") for start in range(0, len(text), PIECE)]


class SendTimeout:
    """WSGI middleware: under gunicorn, every blocking operation on the client's socket
    during the request (reading the body, handing over a piece of the answer) must finish
    within the given seconds, else the server drops the connection and frees the thread.
    0 leaves the socket as the server set it."""

    def __init__(self, app, seconds):
        self.app, self.seconds = app, seconds

    def __call__(self, environ, start_response):
        sock = environ.get("gunicorn.socket")
        if sock is not None and self.seconds:
            try:
                sock.settimeout(self.seconds)
            except OSError:  # already closed: the server finds out itself
                pass
        return self.app(environ, start_response)
