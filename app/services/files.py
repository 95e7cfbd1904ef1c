"""The raw input and output files of processes, for both dialects."""

from app import db
from app.db import files as store
from app.exceptions import NotFound
from app.services.own_actions import record_own_action


def check_readable(user, code, flow, record=None):
    """General404 unless the user's process code has a stored flow file; with record (an
    operation name), the download is recorded as the user's own action in the same
    transaction."""
    with db.transaction() as conn:
        store.get_process(conn, user["id"], code)
        if not store.file_chunk_count(conn, code, flow):
            raise NotFound(code)
        if record:
            record_own_action(conn, user, record)


def chunks(code, flow):
    """The stored file's chunks, read from one SELECT as they are consumed."""
    with db.connection() as conn:
        yield from store.file_chunks(conn, code, flow)


def read_whole(code, flow, collect):
    """collect(chunks) of the stored file, on one connection (collect bounds the size)."""
    with db.connection() as conn:
        return collect(store.file_chunks(conn, code, flow))


def record_read(user, operation):
    """A download answered other than from check_readable, recorded as the user's action."""
    with db.transaction() as conn:
        record_own_action(conn, user, operation)


def write(caller, code, flow, chunks):
    """Replace the flow file of process code with chunks (an iterable of bytes). A BOT may
    write only for its own company's processes (another's is a General404, as an unknown
    code); an ADMIN for any."""
    company = None if "ADMIN" in caller["roles"] else caller["company_key"]
    with db.transaction() as conn:
        store.get_process_for_company(conn, code, company)
        return store.write_file(conn, code, flow, chunks)
