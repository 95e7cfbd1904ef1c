"""Answers that grow with the data are streamed (issue 16): the audit of both dialects is
written as it is read, byte for byte the document the schema would give; a failure in the
middle of the stream leaves a truncated body and a logged error; a slow client completes
and a stalled one is dropped, on a real gunicorn."""

import hashlib
import http.client
import json
import logging
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from app.api.audit import action
from app.api.v6.mapping import audit_action
from app.config import DEFAULTS, normalize_database_url
from app.db import audit as audit_queries
from app.db import scope
from app.db.audit import AUDIT_CHUNK
from app.db.ingest import CALCULATION_INFO_COLUMNS
from app.db.tables import process_file_chunks, process_requests, processes, users
from app.security import hash_password, issue_token
from app.services import audit as audit_service
from schemas.processes import AccountAuditResult
from schemas.v6 import AccountAuditResult as V6AccountAuditResult
from tests import servers

START = datetime(2026, 10, 1, tzinfo=UTC)
PERIOD = {"from": "2026-10-01T00:00:00Z", "to": "2026-10-31T23:59:59Z"}
PERIOD_TO = "2026-10-31T23:59:59+00:00"
SERVICES_79 = ("UNIVERSAL", "ROUTING", "PACKER", "AGRO")
TYPES_79 = ("PLAN", "TRACE", "ROUTE", "MATRIX")


def _iso(us):
    return datetime.fromtimestamp(us / 1e6, UTC).replace(microsecond=us % 1_000_000).isoformat()


def seed(engine, username, count, requests=5, v6_only_every=9):
    """count processes of the user in October 2026 (pairs share a time: the process_code
    breaks the tie), each with requests stored out of time order; every v6_only_every-th
    names a 6.20-only method group (PACK). Returns {process_code: (row, [request rows])}."""
    with engine.begin() as conn:
        user_id = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()
    base = int(START.timestamp()) * 1_000_000
    rows, request_rows, seeded = [], [], {}
    for n in range(count):
        code = str(uuid.UUID(int=(n * 2654435761) % 2**122 + 1, version=4))
        time_us = base + (n // 2) * 997_000_123
        row = {
            "process_code": code,
            "user_id": user_id,
            "username": username,
            "company": "acme",
            "service": SERVICES_79[n % 4],
            "process_type": "PACK" if n % v6_only_every == 0 else TYPES_79[(n // 4) % 4],
            "time_us": time_us,
            "status": "FAILED" if n % 7 == 0 else "FINISHED_IN_TIME",
            "result_version": n % 3,
            "preparing_time": "PT1S",
            "business_validation_time": "PT2S",
            "math_validation_time": "PT0.5S",
            "waiting_time": "PT4S",
            "calculation_time": f"PT{n % 90}M",
            "request_points_count": None if n % 11 == 0 else n * 13,
            "result_elements_count": None if n % 5 == 0 else n,
            "input_file_exists": n % 6 == 0,
            "output_file_exists": False,
        }
        mine = [
            {
                "process_code": code,
                "request_code": str(uuid.UUID(int=(n * 7919 + k) % 2**122 + 7, version=4)),
                "username": username,
                "company": "acme",
                "service": row["service"],
                "operation": f"op_{k}",
                "env": "edge",
                "pod": f"pod-{k}-ё",  # answers are ASCII: escaped as Flask escapes it
                "time_us": time_us + (requests - k) * 1000,
            }
            for k in range(requests)
        ]
        rows.append(row)
        request_rows += mine
        seeded[code] = (row, sorted(mine, key=lambda r: (r["time_us"], r["request_code"])))
    with engine.begin() as conn:
        conn.execute(processes.insert(), rows)
        conn.execute(process_requests.insert(), request_rows)
    return seeded


def expected_79(seeded, codes):
    """The documented 7.9 actions of the codes, built from the seeded rows."""
    actions = []
    for code in codes:
        row, requests = seeded[code]
        actions.append(
            {
                "process_code": code,
                "process_type": row["process_type"],
                "username": row["username"],
                "company": row["company"],
                "service": row["service"],
                "time": _iso(row["time_us"]),
                "requests": [
                    {
                        **{k: r[k] for k in ("process_code", "request_code", "username", "company", "service")},
                        **{k: r[k] for k in ("operation", "env", "pod")},
                        "time": _iso(r["time_us"]),
                    }
                    for r in requests
                ],
                "statistics": {
                    "request_points_count": row["request_points_count"],
                    "result_elements_count": row["result_elements_count"],
                    "calculation_info": {name: row[name] for name in CALCULATION_INFO_COLUMNS if name in row},
                },
                "input_file_exists": row["input_file_exists"],
                "output_file_exists": row["output_file_exists"],
            }
        )
    return actions


def order(seeded, descending=False, dialect="7.9"):
    """The seeded codes in the audit's default order (time, then process_code)."""
    codes = [code for code, (row, _) in seeded.items() if dialect == "6.20" or row["process_type"] in TYPES_79]
    return sorted(codes, key=lambda code: (seeded[code][0]["time_us"], code), reverse=descending)


def schema_answer(app, dialect, query):
    """The document as the view answered before it streamed: the page in one list, dumped
    through the dialect's schema and Flask's JSON provider."""
    with app.test_request_context():
        with app.extensions["account_db"].connect() as conn:
            user_id = conn.execute(text("SELECT id FROM users WHERE username = 'alice'")).scalar_one()
            start, end = (int(datetime.fromisoformat(query[k]).timestamp()) * 1_000_000 for k in ("from", "to"))
            filters = {} if dialect == "7.9" else {"service": None, "process_type": None, "operation": None}
            names = scope.V79 if dialect == "7.9" else scope.EVERY
            overall, filtered, page = audit_queries.audit(
                conn,
                user_id,
                start,
                end,
                filters,
                query.get("sort_field", "time"),
                query.get("sort_direction") == "DESC",
                query.get("offset", 0),
                query["limit"],
                names=names,
            )
        counters = {"overall": {"total": overall}, "filter": {"total": filtered}}
        if dialect == "7.9":
            document = AccountAuditResult().dump({"actions": [action(row) for row in page], "counters": counters})
        else:
            document = V6AccountAuditResult().dump(
                {"actions": [audit_action(row) for row in page], "statistics": counters}
            )
        return app.json.response(document).get_data()


@pytest.fixture
def alice(auth):
    return auth("alice")


@pytest.mark.parametrize(
    "dialect, path", [("7.9", "/account/audit"), ("6.20", "/v6/account/audit")], ids=["7.9", "6.20"]
)
@pytest.mark.parametrize(
    "page",
    [{"limit": 10_000_000}, {"offset": 700, "limit": 900, "sort_direction": "DESC"}],
    ids=["whole", "offset-desc"],
)
def test_a_large_page_is_the_whole_document(app, client, alice, dialect, path, page):
    count = 2 * AUDIT_CHUNK + 345  # several chunks of the server-side cursor
    seeded = seed(app.extensions["account_db"], "alice", count)
    query = {**PERIOD, **page}
    response = client.get(path, query_string=query, headers=alice)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.is_streamed  # written as read: no Content-Length
    body = response.get_data()
    assert body == schema_answer(app, dialect, {**query, "from": "2026-10-01T00:00:00+00:00", "to": PERIOD_TO})

    document = json.loads(body)
    visible = order(seeded, page.get("sort_direction") == "DESC", dialect)
    offset = page.get("offset", 0)
    want = visible[offset : offset + page["limit"]]
    counters = document["counters" if dialect == "7.9" else "statistics"]
    assert counters == {"overall": {"total": len(visible) + 1}, "filter": {"total": len(visible)}}  # + the login
    if dialect == "7.9":
        assert document["actions"] == expected_79(seeded, want)
    else:
        assert [a["tracedata"]["code"] for a in document["actions"]] == want
        first = {code: seeded[code][1][0] for code in want}
        assert [a["tracedata"]["operation"] for a in document["actions"]] == [first[c]["operation"] for c in want]
        assert {a["method_group"] for a in document["actions"]} >= {"PACK", "PLAN"}


@pytest.mark.parametrize("path", ["/account/audit", "/v6/account/audit"])
def test_an_empty_page_is_a_complete_document(client, alice, path):
    response = client.get(path, query_string={**PERIOD, "limit": 10_000_000}, headers=alice)
    assert response.status_code == 200
    document = json.loads(response.get_data())
    assert document["actions"] == []


def test_an_answer_never_read_gives_its_connection_back(app, client, alice):
    seed(app.extensions["account_db"], "alice", 10)
    response = client.head("/account/audit", query_string=PERIOD, headers=alice)
    assert response.status_code == 200
    response.close()  # as the server does when it is done with the answer
    assert app.extensions["account_db"].pool.checkedout() == 0


def test_a_database_failure_mid_stream_truncates_the_answer_and_is_logged(app, client, alice, monkeypatch, caplog):
    seed(app.extensions["account_db"], "alice", 2 * AUDIT_CHUNK + 10)
    real = audit_queries.audit_chunks

    def failing(*args, **kwargs):
        chunks = real(*args, **kwargs)
        yield next(chunks)
        yield next(chunks)
        raise OperationalError("SELECT ...", {}, Exception("server closed the connection unexpectedly"))

    monkeypatch.setattr(audit_service, "audit_chunks", failing)
    response = client.get("/account/audit", query_string={**PERIOD, "limit": 10_000_000}, headers=alice, buffered=False)
    assert response.status_code == 200  # sent before the failure
    received = bytearray()
    with caplog.at_level(logging.ERROR, logger=app.logger.name), pytest.raises(OperationalError):
        for piece in response.response:  # what the server writes, piece by piece
            received += piece
    assert received.startswith(b'{"actions":[{') and len(received) > 100_000
    with pytest.raises(ValueError):
        json.loads(received)  # never a document that parses as complete
    assert b"counters" not in received
    assert any("streamed answer aborted" in record.getMessage() for record in caplog.records)
    assert app.extensions["account_db"].pool.checkedout() == 0  # the connection went back


def test_a_query_that_fails_before_the_first_byte_is_a_general500(app, client, alice, monkeypatch):
    def failing(*args, **kwargs):
        raise OperationalError("SELECT ...", {}, Exception("connection refused"))
        yield  # a generator, as the real one

    monkeypatch.setattr(audit_service, "audit_chunks", failing)
    response = client.get("/account/audit", query_string=PERIOD, headers=alice)
    assert response.status_code == 500
    assert response.get_json()["message"].startswith("Internal server error")
    assert app.extensions["account_db"].pool.checkedout() == 0


@pytest.mark.parametrize("convert", ["JSON", "XLSX"])
def test_a_conversion_past_16_mib_is_a_general400_and_origin_still_serves_it(client, alice, database_url, convert):
    code = store_file(database_url, "alice", json_file(CONVERT_MAX + 1))
    response = client.get(f"/v6/account/data/{code}?data_flow_convert={convert}", headers=alice)
    assert response.status_code == 400
    assert response.get_json()["message"] == (
        "Invalid request: data_flow_convert: the stored data is larger than 16777216 bytes; only ORIGIN serves it"
    )
    origin = client.get(f"/v6/account/data/{code}?data_flow_convert=ORIGIN", headers=alice)
    assert origin.status_code == 200 and len(origin.get_data()) == CONVERT_MAX + 1


# ------------------------------------------------------------------ on a real gunicorn

SECRET = "streaming-secret-0123456789-abcdefghijklmnopqrstuvwxyz"


@pytest.fixture(scope="module")
def slow_server(database_url, tmp_path_factory):
    """gunicorn (gunicorn.conf.py's workers) with a 2 s worker timeout and SEND_TIMEOUT 3 s,
    and a user with an audit answer of about 12 MB."""
    workdir = tmp_path_factory.mktemp("streaming")
    engine = create_engine(normalize_database_url(database_url))
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            users.insert().values(
                username="alice",
                company_key="acme",
                password_hash=hash_password("long_strong_password", 4),
                enabled=True,
                roles=["USER"],
                timezone=0,
                attributes=[],
                token_version=0,
                creation_date=now,
                edit_date=now,
            )
        )
    seed(engine, "alice", 6_500)
    engine.dispose()
    token = issue_token({**DEFAULTS, "JWT_SECRET": SECRET}, {"username": "alice", "token_version": 0}, 3600)
    with servers.gunicorn(
        database_url, workdir, gunicorn_args=("--timeout", "2"), JWT_SECRET=SECRET, SEND_TIMEOUT="3"
    ) as running:
        yield running, token, workdir


def _open(server, token, path, receive_buffer=16 * 1024):
    host, port = server.host.removeprefix("http://").split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)  # a small window: the server waits on us
    sock.connect((host, int(port)))
    sock.sendall(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode()
    )
    return sock


def _dechunk(raw):
    """(status, body, complete) of an HTTP/1.1 answer read to EOF."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if b"transfer-encoding: chunked" not in head.lower():
        return status, rest, True
    body = bytearray()
    while True:
        size_line, sep, rest = rest.partition(b"\r\n")
        if not sep:
            return status, bytes(body), False
        size = int(size_line, 16)
        if size == 0:
            return status, bytes(body), True
        if len(rest) < size + 2:
            return status, bytes(body + rest[:size]), False
        body += rest[:size]
        rest = rest[size + 2 :]


AUDIT = "/account/audit?from=2026-10-01T00:00:00Z&to=2026-10-31T23:59:59Z&limit=10000000"


def test_a_slow_reader_gets_the_whole_answer_past_the_worker_timeout(slow_server):
    server, token, _ = slow_server
    sock = _open(server, token, AUDIT)
    started, raw = time.monotonic(), bytearray()
    sock.settimeout(30)
    while piece := sock.recv(16 * 1024):
        raw += piece
        time.sleep(0.006)  # under 3 MB/s: several seconds for the answer
    sock.close()
    elapsed = time.monotonic() - started
    status, body, complete = _dechunk(bytes(raw))
    assert status == 200 and complete
    document = json.loads(body)
    assert len(document["actions"]) == document["counters"]["filter"]["total"] > 4_000
    assert len(body) > 8_000_000
    assert elapsed > 2  # longer than the worker timeout, and not cut by it


def test_a_client_that_stops_reading_is_dropped_and_frees_its_thread(slow_server):
    server, token, workdir = slow_server
    stalled = [_open(server, token, AUDIT) for _ in range(2)]
    time.sleep(8)  # past SEND_TIMEOUT once the buffers are full
    # Served meanwhile: the stalled answers hold no more than their threads.
    status, body = servers.call(server, token, "GET", "/account/info", None, "application/json")
    assert status == 200, body
    for sock in stalled:
        raw = bytearray()
        sock.settimeout(30)
        try:
            while piece := sock.recv(1 << 20):
                raw += piece
        except ConnectionResetError:
            pass
        sock.close()
        status, body, complete = _dechunk(bytes(raw))
        assert status == 200 and not complete
        with pytest.raises(ValueError):
            json.loads(body)


@pytest.mark.postgresql_only  # the database connection of a running answer is killed
def test_a_connection_killed_mid_stream_truncates_the_answer_and_is_logged(slow_server, database_url):
    server, token, workdir = slow_server
    sock = _open(server, token, AUDIT)
    sock.settimeout(30)
    raw = bytearray(sock.recv(16 * 1024))
    killer = create_engine(normalize_database_url(database_url))
    try:
        with killer.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND backend_type = 'client backend' AND state <> 'idle'"
                )
            ).all()
    finally:
        killer.dispose()
    assert killed
    while piece := sock.recv(1 << 20):
        raw += piece
    sock.close()
    status, body, complete = _dechunk(bytes(raw))
    assert status == 200 and not complete
    with pytest.raises(ValueError):
        json.loads(body)
    deadline = time.monotonic() + 10
    while "streamed answer aborted" not in (workdir / "gunicorn.err").read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "streamed answer aborted" in (workdir / "gunicorn.err").read_text()


def test_threads_serve_other_requests_while_an_answer_streams(slow_server):
    server, token, _ = slow_server
    sock = _open(server, token, AUDIT)
    results = []

    def info():
        results.append(servers.call(server, token, "GET", "/account/info", None, "application/json")[0])

    callers = [threading.Thread(target=info) for _ in range(4)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    sock.close()
    assert results == [200] * 4


# ------------------------------------------------------------------ files

MB = 1024 * 1024
WORKER_GROWTH_MB = 64


def _kb(pid, key):
    try:
        for line in open(f"/proc/{pid}/status").read().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class PeakGrowth:
    """The largest peak RSS growth (MB) of the processes while the block runs: VmRSS polled
    every 5 ms, and VmHWM (reset first where the kernel allows) read at the end."""

    def __init__(self, pids):
        self.pids = pids

    def __enter__(self):
        self.before = {pid: _kb(pid, "VmRSS") for pid in self.pids}
        self.peaks = dict(self.before)
        self.resettable = True
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as handle:
                    handle.write("5")
            except OSError:
                self.resettable = False
        self.stop = threading.Event()
        self.poller = threading.Thread(target=self._poll)
        self.poller.start()
        return self

    def _poll(self):
        while not self.stop.is_set():
            for pid in self.pids:
                self.peaks[pid] = max(self.peaks[pid], _kb(pid, "VmRSS"))
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.stop.set()
        self.poller.join()
        if self.resettable:
            for pid in self.pids:
                self.peaks[pid] = max(self.peaks[pid], _kb(pid, "VmHWM"))
        self.growth = max((self.peaks[pid] - self.before[pid]) / 1024 for pid in self.pids)


def store_file(database_url, username, chunks):
    """A new process of the user with an INPUT file of the chunks (bytes), written to the
    database directly; its code."""
    code = str(uuid.uuid4())
    engine = create_engine(normalize_database_url(database_url))
    try:
        with engine.begin() as conn:
            user_id = conn.execute(text("SELECT id FROM users WHERE username = :u"), {"u": username}).scalar_one()
            conn.execute(
                processes.insert().values(
                    process_code=code,
                    user_id=user_id,
                    username=username,
                    company="acme",
                    service="UNIVERSAL",
                    process_type="PLAN",
                    time_us=int(START.timestamp()) * 1_000_000,
                    status="FINISHED_IN_TIME",
                    result_version=1,
                    preparing_time="PT1S",
                    business_validation_time="PT1S",
                    math_validation_time="PT1S",
                    waiting_time="PT1S",
                    calculation_time="PT1S",
                    input_file_exists=True,
                    output_file_exists=False,
                )
            )
            for seq, chunk in enumerate(chunks):
                conn.execute(
                    process_file_chunks.insert().values(process_code=code, flow_type="INPUT", seq=seq, data=chunk)
                )
    finally:
        engine.dispose()
    return code


def test_a_200_mb_download_is_streamed_in_bounded_memory(slow_server, database_url):
    server, token, _ = slow_server
    block = os.urandom(MB - 8)
    chunks = (seq.to_bytes(8, "big") + block for seq in range(200))
    code = store_file(database_url, "alice", chunks)
    want = hashlib.sha256(b"".join(seq.to_bytes(8, "big") + block for seq in range(200))).hexdigest()
    host, port = server.host.removeprefix("http://").split(":")
    digest, size = hashlib.sha256(), 0
    with PeakGrowth(server.workers()) as peak:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        conn.request("GET", f"/account/data/{code}?data_flow_type=INPUT", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        assert response.status == 200
        while piece := response.read(MB):
            digest.update(piece)
            size += len(piece)
        conn.close()
    assert size == 200 * MB and digest.hexdigest() == want
    print(f"200 MB download: serving worker peak RSS growth {peak.growth:.1f} MB")
    assert peak.growth <= WORKER_GROWTH_MB, f"the serving worker grew by {peak.growth:.1f} MB"


CONVERT_MAX = 16 * MB


def json_file(size):
    """Chunks (1 MiB) of a JSON array of small objects, of exactly size bytes."""
    item = b'{"id":123456,"name":"point","lat":55.75,"lon":37.61},'
    body = item * ((size - 2) // len(item))
    body = b"[" + body[:-1] + b" " * (size - 2 - len(body) + 1) + b"]"
    assert len(body) == size
    return [body[start : start + MB] for start in range(0, size, MB)]


def test_a_16_mib_json_conversion_stays_bounded(slow_server, database_url):
    server, token, _ = slow_server
    chunks = json_file(CONVERT_MAX)
    code = store_file(database_url, "alice", chunks)
    host, port = server.host.removeprefix("http://").split(":")
    with PeakGrowth(server.workers()) as peak:
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        conn.request(
            "GET", f"/v6/account/data/{code}?data_flow_convert=JSON", headers={"Authorization": f"Bearer {token}"}
        )
        response = conn.getresponse()
        body = response.read()
        conn.close()
    assert response.status == 200 and body == b"".join(chunks)
    print(f"16 MiB JSON conversion: serving worker peak RSS growth {peak.growth:.1f} MB")
    assert peak.growth <= WORKER_GROWTH_MB, f"the serving worker grew by {peak.growth:.1f} MB"
