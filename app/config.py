"""Configuration: every setting, its default and its environment variable, in one place.

Order of precedence (later wins): the defaults below, ``config.py`` in the instance folder
(``instance/`` or ACCOUNT_INSTANCE_PATH), ``ACCOUNT_<NAME>`` environment variables, the
mapping passed to ``create_app``. Only these settings reach ``app.config``: this module's
own names (DEFAULTS, WEAK_SECRETS...) never do, and an ACCOUNT_ variable that names no
setting is logged as a warning (its name, never its value) and ignored.
"""

import logging
import os
import secrets
import socket
import stat
from pathlib import Path

from flask import Config
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# Each default's type is its setting's: an ACCOUNT_<NAME> value is parsed as that type, and
# a value from config.py or create_app must have it (finalize).
DEFAULTS = {
    # SQLAlchemy URL; empty means the embedded SQLite file instance/account.db.
    "DATABASE_URL": "",
    # HMAC secret for JWTs (HS256); empty means: generate one and keep it in instance/.
    "JWT_SECRET": "",
    "JWT_ALGORITHM": "HS256",
    "JWT_ISSUER": "vrt-account",
    "JWT_AUDIENCE": "vrt-platform",
    # Seconds of clock skew tolerated on exp/iat.
    "JWT_LEEWAY": 5,
    # Environment id reported in tracedata.env.
    "ENV_ID": "local",
    # Pod id reported in tracedata.pod; empty means the host name.
    "POD_ID": "",
    # bcrypt work factor (4..31).
    "BCRYPT_ROUNDS": 12,
    # Largest request body accepted, in bytes.
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    # Largest raw process file accepted by PUT /account/data, in bytes.
    "DATA_MAX_CONTENT_LENGTH": 256 * 1024 * 1024,
    # Login throttling: failures per username and per client address within the window.
    "LOGIN_THROTTLE": True,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_MAX_FAILURES_PER_ADDRESS": 30,
    "LOGIN_WINDOW_SECONDS": 900,
    # Redis URL for the login counters; empty means they live in the database.
    "REDIS_URL": "",
    # Number of trusted reverse proxies in front of the service (X-Forwarded-For hops).
    "TRUSTED_PROXIES": 0,
    # Seconds a database connection attempt may take before the request fails.
    "DB_CONNECT_TIMEOUT": 3,
    # Log lines as JSON objects (json) or as plain text (text), gunicorn's included.
    "LOG_FORMAT": "text",
    # GET /metrics: served to anyone (public), only with `Authorization: Bearer METRICS_TOKEN`
    # (token), or not at all (off).
    "METRICS": "public",
    "METRICS_TOKEN": "",
    # METRICS=port: the address and port of the metrics' own listener, opened by gunicorn's
    # master (so the service's port has no /metrics at all).
    "METRICS_HOST": "127.0.0.1",
    "METRICS_PORT": 0,
    # Seconds a worker keeps serving after SIGTERM with /readyz answering 503, so that load
    # balancers stop sending before it stops accepting (gunicorn's graceful_timeout bounds it).
    "SHUTDOWN_DELAY": 5,
    # Seconds a client may take to accept one piece of an answer (at most 1 MiB) or to send
    # one of its request body, under gunicorn; past it the connection is dropped. 0: no limit.
    "SEND_TIMEOUT": 60,
    # PostgreSQL: whether a quota reservation's commit waits for its WAL flush. Off, a
    # server crash may forget the last fraction of a second of decisions (never half of
    # one); the flush was over a third of a reservation's time in `make bench`.
    "QUOTA_DURABLE_COMMIT": False,
    # Days of raw processes `flask account purge` keeps when not given --before; 0: none set.
    "RETENTION_DAYS": 0,
}

# ACCOUNT_ names that are not settings: the instance folder (read before the settings), and
# variables the tests, the benchmark and the metrics' worker processes read for themselves.
NOT_SETTINGS = {"INSTANCE_PATH", "TEST_DATABASE_URL", "BENCH_DATABASE_URL", "METRICS_TEMPORARY_DIR"}
PREFIX = "ACCOUNT"
# What an ACCOUNT_ value of a boolean setting may say (any case).
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")

LOG_FORMATS = ("json", "text")
METRICS_MODES = ("public", "token", "port", "off")
MIN_METRICS_TOKEN_CHARS = 16

# Secrets that must never sign tokens: placeholders from docs and examples.
WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "jwt-secret", "your-secret-key", "test"}
MIN_SECRET_BYTES = 32


# The databases the service ships drivers for.
_DATABASES = {"sqlite": "sqlite:///path/to/account.db", "postgresql": "postgresql://user@host:5432/name"}
_REDIS_SCHEMES = ("redis", "rediss", "unix")

_log = logging.getLogger(__name__)


class ConfigError(RuntimeError):
    """A setting is missing or unsafe: the service refuses to start. Its message names the
    setting and where it came from; `make run`, gunicorn and the CLI print it as one
    `Error: ...` line and stop."""


def instance_path():
    """The instance folder: ACCOUNT_INSTANCE_PATH, or instance/ beside the app package."""
    return os.environ.get("ACCOUNT_INSTANCE_PATH") or str(Path(__file__).resolve().parent.parent / "instance")


def load(config, overrides=None):
    """Fill config (a flask.Config whose root path is the instance folder): the defaults,
    then the instance folder's config.py, then ACCOUNT_<NAME> variables, then overrides
    (create_app's test mapping); checked by finalize."""
    origins = {}
    config.from_mapping(DEFAULTS)
    from_file = Config(config.root_path)
    path = os.path.join(config.root_path, "config.py")
    try:
        from_file.from_pyfile("config.py", silent=True)
    except Exception as exc:  # a syntax error, a failing import...: the file is unusable
        raise ConfigError(f"{path} cannot be read: {type(exc).__name__}: {exc}") from exc
    config.update(from_file)
    origins.update(dict.fromkeys(from_file, path))
    found, unknown = from_environment()
    if unknown:
        # Names only: a value may be a secret.
        _log.warning("%s: not settings of the service, ignored", ", ".join(unknown))
    config.update(found)
    origins.update({name: f"{PREFIX}_{name}" for name in found})
    if overrides:
        config.update(overrides)
        origins.update(dict.fromkeys(overrides, "create_app"))
    finalize(config, config.root_path, origins)
    return config


def check():
    """Load the settings as the app would, without building it: ConfigError if unusable
    (gunicorn.conf.py runs it in the master, before any worker starts)."""
    load(Config(instance_path()))


def from_environment():
    """(settings, unknown): the settings given as ACCOUNT_<NAME> environment variables, each
    parsed as its default's type, and the sorted ACCOUNT_ names that are no setting.

    Flask's from_prefixed_env reads the variables, into a Config of their own: only the
    settings reach the app's. Its loads keeps every value the string it is (the default,
    json.loads, would make "0123" a number, "true" a boolean and "null" None whatever the
    setting); _parse then reads it as its setting's type, naming the variable if it cannot.
    """
    given = Config("")
    try:
        given.from_prefixed_env(PREFIX, loads=str)
    except TypeError as exc:  # ACCOUNT_X__Y beside ACCOUNT_X: Flask would set a key of a string
        raise ConfigError(f"{PREFIX}_ names with __ are not settings of the service") from exc
    found, unknown = {}, []
    for name, value in given.items():
        if name in DEFAULTS and isinstance(value, str):
            found[name] = _parse(name, value)
        elif name not in NOT_SETTINGS:
            unknown.extend(_names(f"{PREFIX}_{name}", value))
    return found, sorted(unknown)


def _names(name, value):
    """The variable names behind a from_prefixed_env value: ACCOUNT_X__Y makes X a dict."""
    if not isinstance(value, dict):
        return [name]
    return [found for key, item in value.items() for found in _names(f"{name}__{key}", item)]


def _parse(name, raw):
    """An ACCOUNT_<NAME> value as the type of the setting's default."""
    default = DEFAULTS[name]
    if isinstance(default, bool):
        if raw.strip().lower() not in _TRUE + _FALSE:
            raise ConfigError(f"{PREFIX}_{name} must be true or false, got {raw!r}")
        return raw.strip().lower() in _TRUE
    if isinstance(default, int):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}_{name} must be an integer, got {raw!r}") from exc
    return raw


def read(path=None):
    """The defaults, instance/config.py and the environment, layered as create_app does
    but neither checked nor completed: for gunicorn's master, which builds no app but
    writes log lines of its own (on_starting's check() reports a bad setting)."""
    config = Config(path or instance_path())
    config.from_mapping(DEFAULTS)
    try:
        config.from_pyfile("config.py", silent=True)
    except Exception:  # check() names the problem
        pass
    config.update(from_environment()[0])
    return config


def finalize(config, instance_path, origins=None):
    """Check every setting's type, fill derived defaults and refuse unsafe values.
    origins ({name: where it was set}) goes into the messages."""
    origins = origins or {}

    def where(name):
        return f" (set by {origins[name]})" if name in origins else ""

    for name, default in DEFAULTS.items():
        value = config[name]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be True or False, got {value!r}{where(name)}")
        elif isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{name} must be an integer, got {value!r}{where(name)}")
        if isinstance(default, str) and not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}{where(name)}")
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'account.db'}"
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    _check_database_url(config["DATABASE_URL"], where("DATABASE_URL"))
    if config["REDIS_URL"] and config["REDIS_URL"].partition(":")[0] not in _REDIS_SCHEMES:
        raise ConfigError(f"REDIS_URL must be a redis://, rediss:// or unix:// URL{where('REDIS_URL')}")
    if not config.get("JWT_SECRET"):
        config["JWT_SECRET"] = _instance_secret(instance / "jwt_secret")
    check_secret(config["JWT_SECRET"], where("JWT_SECRET"))
    if config.get("JWT_ALGORITHM") != "HS256":
        raise ConfigError(f"JWT_ALGORITHM: only HS256 is supported{where('JWT_ALGORITHM')}")
    if not 4 <= config["BCRYPT_ROUNDS"] <= 31:
        raise ConfigError(f"BCRYPT_ROUNDS must be between 4 and 31{where('BCRYPT_ROUNDS')}")
    if config["RETENTION_DAYS"] < 0:
        raise ConfigError(f"RETENTION_DAYS must be 0 (not set) or a number of days{where('RETENTION_DAYS')}")
    if not config.get("POD_ID"):
        config["POD_ID"] = (socket.gethostname() or "local-pod")[:256]
    for name in ("ENV_ID", "POD_ID"):
        if not 2 <= len(config[name]) <= 256:
            raise ConfigError(f"{name} must be 2..256 characters")
    if config["LOG_FORMAT"] not in LOG_FORMATS:
        raise ConfigError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
    if config["METRICS"] not in METRICS_MODES:
        raise ConfigError(f"METRICS must be one of {', '.join(METRICS_MODES)}")
    if config["METRICS"] == "token" and len(config["METRICS_TOKEN"] or "") < MIN_METRICS_TOKEN_CHARS:
        raise ConfigError(f"METRICS=token needs a METRICS_TOKEN of at least {MIN_METRICS_TOKEN_CHARS} characters")
    if config["METRICS"] == "port" and not 1 <= config["METRICS_PORT"] <= 65535:
        raise ConfigError(f"METRICS=port needs a METRICS_PORT between 1 and 65535{where('METRICS_PORT')}")
    if int(config["SHUTDOWN_DELAY"]) < 0:
        raise ConfigError("SHUTDOWN_DELAY must be 0 or more seconds")


def normalize_database_url(url):
    """postgresql:// means psycopg2, the driver we ship (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def _check_database_url(url, where):
    """Only the databases the service has drivers for; the URL itself is never echoed (it
    may hold a password)."""
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        backend = None
    if backend not in _DATABASES:
        raise ConfigError(
            f"DATABASE_URL{where} is not a database the service supports: use {' or '.join(_DATABASES.values())}"
        )


def check_secret(secret, where=""):
    if secret.strip().lower() in WEAK_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"JWT_SECRET{where} is weak or a placeholder: use at least {MIN_SECRET_BYTES} random bytes "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


def _instance_secret(path):
    """The embedded default: a strong secret generated once and kept, private, in instance/.

    Written to a temporary file and hard-linked into place, so that two workers starting
    together agree on one secret and neither ever reads a half-written file.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
