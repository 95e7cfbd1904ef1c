"""Configuration: every setting, its default and its environment variable, in one place.

Order of precedence (later wins): the defaults below, ``config.py`` in the instance folder
(``instance/`` or ACCOUNT_INSTANCE_PATH), ``ACCOUNT_<NAME>`` environment variables, the
mapping passed to ``create_app``. Only these settings reach ``app.config``: this module's
own names (DEFAULTS, WEAK_SECRETS...) never do.
"""

import os
import secrets
import socket
import stat
from pathlib import Path

from flask import Config
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

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

# Settings whose environment value is parsed as a boolean, or as an integer.
_BOOLEANS = {"LOGIN_THROTTLE", "QUOTA_DURABLE_COMMIT"}
_INTEGERS = {
    "LOGIN_MAX_FAILURES",
    "LOGIN_MAX_FAILURES_PER_ADDRESS",
    "LOGIN_WINDOW_SECONDS",
    "TRUSTED_PROXIES",
    "JWT_LEEWAY",
    "BCRYPT_ROUNDS",
    "MAX_CONTENT_LENGTH",
    "DATA_MAX_CONTENT_LENGTH",
    "DB_CONNECT_TIMEOUT",
    "SHUTDOWN_DELAY",
    "METRICS_PORT",
    "SEND_TIMEOUT",
    "RETENTION_DAYS",
}

LOG_FORMATS = ("json", "text")
METRICS_MODES = ("public", "token", "port", "off")
MIN_METRICS_TOKEN_CHARS = 16

# Secrets that must never sign tokens: placeholders from docs and examples.
WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "jwt-secret", "your-secret-key", "test"}
MIN_SECRET_BYTES = 32


# The databases the service ships drivers for.
_DATABASES = {"sqlite": "sqlite:///path/to/account.db", "postgresql": "postgresql://user@host:5432/name"}
_REDIS_SCHEMES = ("redis", "rediss", "unix")


class ConfigError(RuntimeError):
    """A setting is missing or unsafe: the service refuses to start. Its message names the
    setting and where it came from; `make run`, gunicorn and the CLI print it as one
    `Error: ...` line and stop."""


def instance_path():
    """The instance folder: ACCOUNT_INSTANCE_PATH, or instance/ beside the app package."""
    return os.environ.get("ACCOUNT_INSTANCE_PATH") or str(Path(__file__).resolve().parent.parent / "instance")


def load(config, overrides=None, environ=os.environ):
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
    found = from_environment(environ)
    config.update(found)
    origins.update({name: f"ACCOUNT_{name}" for name in found})
    if overrides:
        config.update(overrides)
        origins.update(dict.fromkeys(overrides, "create_app"))
    finalize(config, config.root_path, origins)
    return config


def check():
    """Load the settings as the app would, without building it: ConfigError if unusable
    (gunicorn.conf.py runs it in the master, before any worker starts)."""
    load(Config(instance_path()))


def from_environment(environ=os.environ):
    """Settings given as ACCOUNT_<NAME> environment variables."""
    found = {}
    for name in DEFAULTS:
        raw = environ.get(f"ACCOUNT_{name}")
        if raw is None:
            continue
        if name in _BOOLEANS:
            if raw.strip().lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ConfigError(f"ACCOUNT_{name} must be true or false, got {raw!r}")
            found[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif name in _INTEGERS:
            try:
                found[name] = int(raw)
            except ValueError as exc:
                raise ConfigError(f"ACCOUNT_{name} must be an integer, got {raw!r}") from exc
        else:
            found[name] = raw
    return found


def read(path=None, environ=os.environ):
    """The defaults, instance/config.py and the environment, layered as create_app does
    but neither checked nor completed: for gunicorn's master, which builds no app but
    writes log lines of its own (on_starting's check() reports a bad setting)."""
    config = Config(path or instance_path())
    config.from_mapping(DEFAULTS)
    try:
        config.from_pyfile("config.py", silent=True)
    except Exception:  # check() names the problem
        pass
    config.update(from_environment(environ))
    return config


def finalize(config, instance_path, origins=None):
    """Check every setting's type, fill derived defaults and refuse unsafe values.
    origins ({name: where it was set}) goes into the messages."""
    origins = origins or {}

    def where(name):
        return f" (set by {origins[name]})" if name in origins else ""

    for name, default in DEFAULTS.items():
        value = config[name]
        if name in _INTEGERS and (isinstance(value, bool) or not isinstance(value, int)):
            raise ConfigError(f"{name} must be an integer, got {value!r}{where(name)}")
        if name in _BOOLEANS and not isinstance(value, bool):
            raise ConfigError(f"{name} must be True or False, got {value!r}{where(name)}")
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
