"""The raw input and output files of processes, stored in chunks."""

from sqlalchemy import delete, func, select, update

from app.db.tables import process_file_chunks, processes
from app.exceptions import NotFound


def get_process(conn, user_id, process_code):
    row = conn.execute(
        select(processes).where(processes.c.process_code == process_code, processes.c.user_id == user_id)
    ).first()
    if row is None:
        raise NotFound(process_code)
    return dict(row._mapping)


def get_process_for_company(conn, process_code, company=None):
    """The process, if it exists and (when company is given) belongs to that company."""
    query = select(processes).where(processes.c.process_code == process_code)
    if company is not None:
        query = query.where(processes.c.company == company)
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(process_code)
    return dict(row._mapping)


def _flag(flow_type):
    return {"INPUT": "input_file_exists", "OUTPUT": "output_file_exists"}[flow_type]


def write_file(conn, process_code, flow_type, chunks):
    """Replace the file of one flow with the chunks given (an iterable of bytes)."""
    key = (process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type)
    conn.execute(delete(process_file_chunks).where(*key))
    size, seq = 0, -1
    for seq, chunk in enumerate(chunks):
        size += len(chunk)
        conn.execute(
            process_file_chunks.insert().values(process_code=process_code, flow_type=flow_type, seq=seq, data=chunk)
        )
    if seq < 0:  # an empty file is one empty chunk: it exists (the flag says so) and reads back empty
        conn.execute(
            process_file_chunks.insert().values(process_code=process_code, flow_type=flow_type, seq=0, data=b"")
        )
    conn.execute(update(processes).where(processes.c.process_code == process_code).values({_flag(flow_type): True}))
    return size


def file_chunk_count(conn, process_code, flow_type):
    return conn.execute(
        select(func.count()).where(
            process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type
        )
    ).scalar_one()


def file_chunks(conn, process_code, flow_type):
    """The chunks of a file, in order, one at a time. One SELECT read through a streaming
    cursor: a single statement sees one version of the file even if it is replaced while
    the download runs, and only one chunk is in memory at a time."""
    result = conn.execution_options(stream_results=True, yield_per=1).execute(
        select(process_file_chunks.c.data)
        .where(process_file_chunks.c.process_code == process_code, process_file_chunks.c.flow_type == flow_type)
        .order_by(process_file_chunks.c.seq)
    )
    for row in result:
        yield row.data
