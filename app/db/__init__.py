"""Database engine and the one transaction helper every write goes through."""

import collections
import os
import weakref
from contextlib import contextmanager

from flask import current_app
from sqlalchemy import create_engine, event
from sqlalchemy.exc import DBAPIError, DisconnectionError, MultipleResultsFound, NoResultFound

# Rows per statement when a list of keys goes into IN (...): well under every driver's
# parameter limit (SQLite's 32,766; 65,535 on PostgreSQL).
IN_CHUNK = 500


def chunked(items, size=IN_CHUNK):
    """The list items in consecutive slices of at most size."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def make_engine(url, connect_timeout=3):
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    engine = create_engine(
        url,
        pool_size=5,
        max_overflow=5,
        pool_timeout=connect_timeout,
        connect_args=postgres_connect_args(connect_timeout),
    )

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, _record, _proxy):
        """pool_pre_ping, by hand: a server restarted while the pool was idle costs no
        failed request. lookup() and serialized_transaction() have connections of their
        own, taken from the pool once: both retry on a dead connection instead."""
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool replaces the connection and checks out again
            raise DisconnectionError(str(exc)) from exc

    return engine


def postgres_connect_args(connect_timeout):
    """Session settings of every PostgreSQL connection. jit=off: the statistics and audit
    queries are costed high enough to be JIT-compiled on large accounts, and compiling
    them takes longer than it saves (about 1 s of a 4 s statistics query on 200,000
    processes, measured by `make bench`)."""
    return {"connect_timeout": connect_timeout, "options": "-c jit=off"}


def engine():
    return current_app.extensions["account_db"]


class _LookupConnections:
    """lookup()'s and serialized_transaction()'s PostgreSQL connections: driver connections
    taken out of the engine's pool (detached: set up and pinged by it once) and kept in
    autocommit, idle ones in a LIFO that threads share without a lock (deque's append and
    pop are atomic). A lookup is then one round trip and no pool bookkeeping."""

    def __init__(self):
        self.pid = os.getpid()
        self.idle = collections.deque()

    def take(self, engine):
        try:
            return self.idle.pop()
        except IndexError:
            pooled = engine.raw_connection()
            raw = pooled.dbapi_connection
            pooled.detach()
            raw.rollback()  # nothing to send when idle; autocommit cannot be set in a transaction
            raw.autocommit = True
            return raw

    def give_back(self, raw):
        if not raw.closed:
            self.idle.append(raw)

    def discard(self, raw):
        """raw was found dead: close it, and every idle one, which a server restart or a
        dropped network took down with it (the next take() opens a pinged one)."""
        raw.close()
        self.close()

    def close(self):
        while self.idle:
            self.idle.pop().close()


# engine -> _LookupConnections (which holds no reference to the engine: the entry goes with it)
_lookup_connections = weakref.WeakKeyDictionary()


def _connections_of(main):
    connections = _lookup_connections.get(main)
    if connections is None or connections.pid != os.getpid():
        # A forked worker starts with none: the parent's sockets stay the parent's.
        connections = _lookup_connections[main] = _LookupConnections()
        pid = connections.pid

        @event.listens_for(main, "engine_disposed")
        def _close(_engine, connections=connections):
            if os.getpid() == pid:
                connections.close()

    return connections


def lookup(query):
    """query(conn) for one read-only statement on the hot path (every authenticated
    request looks its user up). On SQLite conn is a Connection. On PostgreSQL it is a
    driver connection in autocommit (see _LookupConnections): the statement must be a
    plain parameterized one, no session state (no SQL PREPARE), so that it works behind a
    transaction pooler such as PgBouncer. A connection found dead (a server restart, an
    idle connection dropped) is closed with every idle one, and the statement runs once
    more on a new connection, which the pool's ping vouches for: it costs no request."""
    main = engine()
    if main.dialect.name != "postgresql":
        with main.connect() as conn:
            return query(conn)
    connections = _connections_of(main)
    for attempt in (1, 2):
        raw = connections.take(main)
        try:
            return query(raw)
        except main.dialect.loaded_dbapi.Error as exc:
            if attempt == 2 or not main.dialect.is_disconnect(exc, raw, None):
                raise
            connections.discard(raw)
        finally:
            connections.give_back(raw)


@contextmanager
def transaction():
    """Commit on success, roll back on any error."""
    with engine().begin() as conn:
        yield conn


class SerializedTransaction:
    """The transaction of serialized_transaction(): execute() as on a Connection (on
    PostgreSQL its result is a _Rows), and commit=True to end the transaction with the
    statement.

    On PostgreSQL it runs on a driver connection of lookup()'s (autocommit, no pool
    checkout, none of SQLAlchemy's per-statement execution machinery: a reservation's
    hot path), and the transaction is ours: BEGIN travels with the first statement and
    COMMIT with the last, as one simple query each (the driver would send each on a round
    trip of its own). A failed statement aborts the rest of its query, and the
    transaction is rolled back on the way out. Driver errors are raised as SQLAlchemy's
    (IntegrityError, DBAPIError with connection_invalidated when the connection is dead),
    as a Connection raises them."""

    def __init__(self, dialect, conn=None, raw=None):
        self.dialect = dialect
        self.conn = conn  # SQLite: the Connection
        self._raw = raw  # PostgreSQL: the driver's connection
        self._begun = False
        self.committed = False
        self.dead = False

    def execute(self, statement, params=None, commit=False):
        params = params or {}
        if self._raw is None:
            result = self.conn.execute(statement, params)
            if commit:
                self.conn.commit()
                self.committed = True
            return result
        sql, values = _driver_sql(self.dialect, statement, params)
        if not self._begun:
            sql, self._begun = "BEGIN; " + sql, True
        if commit:
            sql += "; COMMIT"
        result = self._run(sql, values)
        self.committed = commit
        return result

    def _run(self, sql, values=None):
        cursor = None
        try:
            with self._raw.cursor() as cursor:
                cursor.execute(sql, values)
                return _Rows(cursor)
        except self.dialect.loaded_dbapi.Error as exc:
            self.dead = self.dialect.is_disconnect(exc, self._raw, cursor)
            raise DBAPIError.instance(
                sql, values, exc, self.dialect.loaded_dbapi.Error, connection_invalidated=self.dead
            ) from exc

    def _end(self, failed):
        if self.committed:
            return
        if self._raw is None:
            (self.conn.rollback if failed else self.conn.commit)()
        elif self._begun and not self.dead:
            try:
                self._run("ROLLBACK" if failed else "COMMIT")
            except Exception:
                # Never reuse a connection whose transaction may still be open.
                self.dead = True
                if not failed:
                    raise


class _Row(tuple):
    """A row of _Rows: a tuple with its columns by name in _mapping."""

    _mapping: dict

    def __new__(cls, values, names):
        row = super().__new__(cls, values)
        row._mapping = dict(zip(names, values, strict=True))
        return row


class _Rows:
    """A statement's result on a driver cursor, read at once: rowcount, one(),
    scalar_one(), as a CursorResult offers them."""

    def __init__(self, cursor):
        self.rowcount = cursor.rowcount
        if cursor.description is None:
            self._rows = []
        else:
            names = [column.name for column in cursor.description]
            self._rows = [_Row(values, names) for values in cursor.fetchall()]

    def one(self):
        if len(self._rows) != 1:
            raise NoResultFound("no row") if not self._rows else MultipleResultsFound("more than one row")
        return self._rows[0]

    def scalar_one(self):
        return self.one()[0]


_DRIVER_SQL = {}


def _driver_sql(dialect, statement, params):
    """(text, parameters) of a Core statement for the driver itself, compiled once."""
    key = (statement, dialect.name, tuple(sorted(params)))
    compiled = _DRIVER_SQL.get(key)
    if compiled is None:
        compiled = _DRIVER_SQL[key] = statement.compile(dialect=dialect, column_keys=sorted(params))
    return str(compiled), compiled.construct_params(params)


@contextmanager
def serialized_transaction():
    """A SerializedTransaction for a read-then-decide write. pysqlite opens SQLite's
    transactions lazily and DEFERRED (the first write asks for the lock, and a writer
    that read first may then fail with "database is locked"): here BEGIN IMMEDIATE takes
    the write lock before the first read, so deciders on any worker run one after
    another. PostgreSQL's callers lock their own rows (SELECT ... FOR UPDATE) instead.

    On PostgreSQL the connection is one of lookup()'s, not pinged first (one round trip
    less on a hot path): a dead one fails the first statement with a DBAPIError whose
    connection_invalidated is true; it is closed with every idle one (as lookup() does),
    and the caller may run its idempotent work again on a new connection."""
    main = engine()
    if main.dialect.name != "postgresql":
        with main.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield from _serialized(SerializedTransaction(conn.dialect, conn=conn))
        return
    connections = _connections_of(main)
    raw = connections.take(main)
    transaction = SerializedTransaction(main.dialect, raw=raw)
    try:
        yield from _serialized(transaction)
    finally:
        if transaction.dead or raw.closed:
            connections.discard(raw)
        else:
            connections.give_back(raw)


def _serialized(transaction):
    try:
        yield transaction
    except BaseException:
        transaction._end(failed=True)
        raise
    transaction._end(failed=False)


@contextmanager
def connection():
    """A read-only unit of work."""
    with engine().connect() as conn:
        yield conn


def read_snapshot():
    """A connection (not a context manager: the caller closes it) for a read-only unit of
    work that may outlive the view, such as a streamed answer. On PostgreSQL its statements
    share one snapshot (REPEATABLE READ, READ ONLY), so an answer read in several queries
    is consistent with itself."""
    conn = engine().connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


def upsert(conn, table):
    """An INSERT that takes ON CONFLICT clauses, in the connection's dialect."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)
