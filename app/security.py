"""Password hashing and JWT signing/verification."""

import base64
import hashlib
import json
import threading
import time
import uuid

import bcrypt
import jwt
from cachetools import LRUCache

# Header keys a token may carry; anything else (kid, jku, x5u, jwk, crit...) is refused.
_ALLOWED_HEADER_KEYS = {"alg", "typ"}
_REQUIRED_CLAIMS = ["exp", "iat", "sub", "iss", "aud", "ver"]


def _prehash(password):
    """bcrypt reads only 72 bytes: hash the whole UTF-8 password first, so up to 256
    characters of any script count in full. Base64 keeps NUL bytes out of bcrypt's input."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def hash_password(password, rounds):
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password, hashed):
    return bcrypt.checkpw(_prehash(password), hashed.encode("ascii"))


_dummy_hashes = {}


def dummy_check(password, rounds):
    """Spend the time a real check would, for a user who does not exist."""
    if rounds not in _dummy_hashes:
        _dummy_hashes[rounds] = hash_password(uuid.uuid4().hex, rounds)
    check_password(password, _dummy_hashes[rounds])


def unquote_token(raw):
    """The reference client hands a token back exactly as it received it: a JSON string,
    quotes included. Accept the bare JWT and the quoted one as the same token."""
    token = (raw or "").strip()
    if len(token) >= 2 and token[0] == '"' and token[-1] == '"':
        try:
            inner = json.loads(token)
        except ValueError:
            return token
        if isinstance(inner, str):
            token = inner.strip()
    return token


def issue_token(config, user, ttl_seconds, now=None):
    now = int(now if now is not None else time.time())
    claims = {
        "iss": config["JWT_ISSUER"],
        "aud": config["JWT_AUDIENCE"],
        "sub": user["username"],
        "iat": now,
        "nbf": now,
        "exp": now + int(ttl_seconds),
        "jti": str(uuid.uuid4()),
        "ver": int(user["token_version"]),
    }
    return jwt.encode(claims, config["JWT_SECRET"], algorithm=config["JWT_ALGORITHM"], headers={"typ": "JWT"})


class InvalidToken(Exception):
    """The token is malformed, forged, expired or otherwise unusable."""


# Tokens verified lately, with their claims: a token is sent with every request of its
# session, and verifying it again (two JSON parses, an HMAC, the claim checks) was an
# eighth of the time of GET /account/info. The key holds every setting the verification
# depends on; a hit re-checks what time can change (exp; iat and nbf only get more valid).
# Least recently used tokens leave first; the lock guards the cache's bookkeeping, which a
# read updates too. Revocation is not cached: callers check the token version against the
# database.
_verified = LRUCache(maxsize=1024)
_verified_lock = threading.Lock()


def decode_token(config, token):
    """Verified claims of a token, or InvalidToken. Only the configured algorithm is accepted."""
    if not token or len(token) > 4096 or token.count(".") != 2:
        raise InvalidToken("malformed")
    leeway = int(config["JWT_LEEWAY"])
    key = (token, config["JWT_SECRET"], config["JWT_ALGORITHM"], config["JWT_AUDIENCE"], config["JWT_ISSUER"], leeway)
    with _verified_lock:
        hit = _verified.get(key)
    if hit is not None:
        claims, expires = hit
        if expires <= time.time() - leeway:  # PyJWT's own test of exp
            raise InvalidToken("ExpiredSignatureError")
        return dict(claims)
    claims = _verify(config, token, leeway)
    with _verified_lock:
        _verified[key] = (claims, int(claims["exp"]))  # a number (_verify); a fraction ends it sooner
    return dict(claims)


def _is_number(value):
    return type(value) in (int, float)  # a JSON number; bool is an int to Python, not to JSON


def _registered_claims_typed(claims):
    """RFC 7519's types for the registered claims: PyJWT reads "exp": "1790000000" as a
    time, and a NumericDate that is a string is not one."""
    if not all(_is_number(claims[name]) for name in ("exp", "iat", "nbf") if name in claims):
        return False
    if not all(isinstance(claims[name], str) for name in ("sub", "iss") if name in claims):
        return False
    audience = claims.get("aud")
    return isinstance(audience, str) or (isinstance(audience, list) and all(isinstance(item, str) for item in audience))


def _verify(config, token, leeway):
    try:
        header = jwt.get_unverified_header(token)
        if set(header) - _ALLOWED_HEADER_KEYS or header.get("alg") != config["JWT_ALGORITHM"]:
            raise InvalidToken("header")
        claims = jwt.decode(
            token,
            config["JWT_SECRET"],
            algorithms=[config["JWT_ALGORITHM"]],
            audience=config["JWT_AUDIENCE"],
            issuer=config["JWT_ISSUER"],
            leeway=leeway,
            options={"require": _REQUIRED_CLAIMS, "strict_aud": True},
        )
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise InvalidToken(type(exc).__name__) from exc
    if not _registered_claims_typed(claims) or type(claims.get("ver")) is not int:
        raise InvalidToken("claims")
    if claims["iss"] != config["JWT_ISSUER"]:  # exact match: a prefix or substring is not ours
        raise InvalidToken("issuer")
    return claims
