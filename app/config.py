"""Configuration: every setting, its default and its environment variable, in one place.

Order of precedence (later wins): the defaults below, ``instance/config.py``,
``ACCOUNT_<NAME>`` environment variables, the mapping passed to ``create_app``.
"""

import os
import secrets
import socket
import stat
from pathlib import Path

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
    # Days of raw processes `flask account purge` keeps when not given --before; 0: none set.
    "RETENTION_DAYS": 0,
}

# Settings whose environment value is parsed as a boolean, or as an integer.
_BOOLEANS = {"LOGIN_THROTTLE"}
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
    "RETENTION_DAYS",
}

# Secrets that must never sign tokens: placeholders from docs and examples.
WEAK_SECRETS = {"secret", "changeme", "change-me", "password", "jwt-secret", "your-secret-key", "test"}
MIN_SECRET_BYTES = 32


class ConfigError(RuntimeError):
    """A setting is missing or unsafe: the service refuses to start."""


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


def finalize(config, instance_path):
    """Fill derived defaults and refuse unsafe values."""
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'account.db'}"
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    if not config.get("JWT_SECRET"):
        config["JWT_SECRET"] = _instance_secret(instance / "jwt_secret")
    check_secret(config["JWT_SECRET"])
    if config.get("JWT_ALGORITHM") != "HS256":
        raise ConfigError("JWT_ALGORITHM: only HS256 is supported")
    if not 4 <= int(config["BCRYPT_ROUNDS"]) <= 31:
        raise ConfigError("BCRYPT_ROUNDS must be between 4 and 31")
    if int(config.get("RETENTION_DAYS") or 0) < 0:
        raise ConfigError("RETENTION_DAYS must be 0 (not set) or a number of days")
    if not config.get("POD_ID"):
        config["POD_ID"] = (socket.gethostname() or "local-pod")[:256]
    for name in ("ENV_ID", "POD_ID"):
        if not 2 <= len(config[name]) <= 256:
            raise ConfigError(f"{name} must be 2..256 characters")


def normalize_database_url(url):
    """postgresql:// means psycopg2, the driver we ship (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def check_secret(secret):
    if secret.strip().lower() in WEAK_SECRETS or len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"JWT_SECRET is weak or a placeholder: use at least {MIN_SECRET_BYTES} random bytes "
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
