"""Part 3 promises: tokens, throttling and strict input, on both databases."""

import base64
import hashlib
import hmac
import io
import json
import logging
import socket
import time

import jwt
import pytest
import redis
from sqlalchemy import text

from app import create_app
from app.config import ConfigError
from tests.conftest import PASSWORD, TEST_SECRET


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(app, **overrides):
    now = int(time.time())
    claims = {
        "iss": app.config["JWT_ISSUER"],
        "aud": app.config["JWT_AUDIENCE"],
        "sub": "alice",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "ver": 0,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _is_refused(client, token):
    info = client.get("/account/info", headers={"Authorization": f"Bearer {token}"})
    validation = client.post("/account/token/validation", json=token)
    assert validation.status_code == 200
    return info.status_code == 401 and validation.get_json() == {"valid": False, "roles": []}


def test_a_token_we_sign_is_accepted(app, client, make_user):
    make_user()
    token = jwt.encode(_claims(app), TEST_SECRET, algorithm="HS256")
    assert client.get("/account/info", headers={"Authorization": f"Bearer {token}"}).status_code == 200


@pytest.mark.validation_only
@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_refused(app, client, make_user, algorithm):
    make_user()
    assert _is_refused(client, jwt.encode(_claims(app), TEST_SECRET, algorithm=algorithm))


@pytest.mark.validation_only
@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_unsigned_tokens_are_refused(app, client, make_user, alg):
    make_user()
    token = f"{_b64({'alg': alg, 'typ': 'JWT'})}.{_b64(_claims(app))}."
    assert _is_refused(client, token)


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "header",
    [
        {"kid": "../../dev/null"},
        {"jku": "http://127.0.0.1:9/keys"},
        {"x5u": "http://127.0.0.1:9/cert"},
        {"jwk": {"kty": "oct", "k": "c2VjcmV0"}},
        {"crit": ["exp"]},
    ],
)
def test_header_tricks_are_refused(app, client, make_user, header):
    make_user()
    assert _is_refused(client, jwt.encode(_claims(app), TEST_SECRET, algorithm="HS256", headers=header))


@pytest.mark.validation_only
def test_public_key_used_as_hmac_secret_is_refused(app, client, make_user):
    make_user()
    public_pem = b"-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n"
    header = _b64({"alg": "HS256", "typ": "JWT"})
    payload = _b64(_claims(app))
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    token = f"{header}.{payload}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"
    assert _is_refused(client, token)


@pytest.mark.validation_only
@pytest.mark.parametrize("claim", ["exp", "iat", "sub", "iss", "aud"])
def test_required_claims(app, client, make_user, claim):
    make_user()
    assert _is_refused(client, jwt.encode(_claims(app, **{claim: None}), TEST_SECRET, algorithm="HS256"))


def _signed(claims, secret=TEST_SECRET):
    """A token signed with our key whatever its claims hold (PyJWT's encode checks some)."""
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT'})}.{_b64(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def test_a_raw_signed_token_with_typed_claims_is_accepted(app, client, make_user):
    """The control of the test below: _signed makes tokens we accept."""
    make_user()
    token = _signed(_claims(app, exp=time.time() + 600.5))
    assert not _is_refused(client, token)


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "claim,value",
    [
        ("exp", "{exp}"),
        ("exp", True),
        ("exp", None),
        ("exp", ["{exp}"]),
        ("iat", "{now}"),
        ("iat", False),
        ("nbf", "{now}"),
        ("nbf", {"t": "{now}"}),
        ("sub", 7),
        ("sub", ["alice"]),
        ("iss", ["{iss}"]),
        ("aud", 3),
        ("aud", ["{aud}", 3]),
        ("aud", {"a": "{aud}"}),
        ("ver", "0"),
        ("ver", False),
    ],
)
def test_registered_claims_must_have_their_rfc_7519_types(app, client, make_user, claim, value):
    make_user()
    now = int(time.time())
    fill = {"exp": str(now + 600), "now": str(now), "iss": app.config["JWT_ISSUER"], "aud": app.config["JWT_AUDIENCE"]}

    def filled(item):
        if isinstance(item, str):
            return item.format(**fill)
        if isinstance(item, list):
            return [filled(x) for x in item]
        if isinstance(item, dict):
            return {k: filled(v) for k, v in item.items()}
        return item

    claims = _claims(app)
    claims[claim] = filled(value)
    assert _is_refused(client, _signed(claims))


@pytest.mark.validation_only
@pytest.mark.parametrize("issuer", ["vrt-accoun", "vrt", "account", "vrt-account-evil", "xvrt-account"])
def test_issuer_must_match_exactly(app, client, make_user, issuer):
    make_user()
    assert _is_refused(client, jwt.encode(_claims(app, iss=issuer), TEST_SECRET, algorithm="HS256"))


def test_expiry_leeway_is_small_and_configured(app, client, make_user):
    make_user()
    now = int(time.time())
    inside = jwt.encode(_claims(app, iat=now - 100, nbf=now - 100, exp=now - 2), TEST_SECRET, algorithm="HS256")
    outside = jwt.encode(_claims(app, iat=now - 100, nbf=now - 100, exp=now - 30), TEST_SECRET, algorithm="HS256")
    assert app.config["JWT_LEEWAY"] == 5
    assert client.get("/account/info", headers={"Authorization": f"Bearer {inside}"}).status_code == 200
    assert _is_refused(client, outside)


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b",
        "Bearer a.b.c.d",
        "Bearer !!!.###.$$$",
        "Bearer " + "A" * 8192,
        "Bearer " + ".".join(["eyJhbGciOiJIUzI1NiJ9", "e30", "x" * 8000]),
        "Token abc.def.ghi",
    ],
)
def test_malformed_tokens_are_401_never_500(client, make_user, header):
    make_user()
    response = client.get("/account/info", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["tracedata"]["username"] == "anonymous"


@pytest.mark.validation_only
def test_token_in_query_string_is_not_accepted(client, auth, login):
    auth()
    token = login()
    assert client.get(f"/account/info?access_token={token}").status_code == 401
    assert client.get(f"/account/info?token={token}").status_code == 401


def test_tokens_and_passwords_never_reach_the_logs(app, client, make_user, login, caplog):
    make_user()
    caplog.set_level(logging.DEBUG)
    token = login()
    client.get("/account/info", headers={"Authorization": f"Bearer {token}x"})
    client.post("/account/token/generation", json={"username": "alice", "password": "wrong_password_9"})
    client.post("/account/token/validation", json=token)
    assert token not in caplog.text
    assert PASSWORD not in caplog.text and "wrong_password_9" not in caplog.text


@pytest.mark.parametrize("secret", ["secret", "changeme", "short-but-not-32-bytes", "x" * 31])
def test_weak_secret_stops_the_start(app_config, tmp_path, monkeypatch, secret):
    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="JWT_SECRET"):
        create_app({**app_config, "JWT_SECRET": secret})


def test_embedded_default_generates_and_keeps_a_strong_secret(app_config, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCOUNT_INSTANCE_PATH", str(tmp_path))
    config = {k: v for k, v in app_config.items() if k != "JWT_SECRET"}
    first = create_app(config)
    second = create_app(config)
    secret_file = tmp_path / "jwt_secret"
    assert len(first.config["JWT_SECRET"]) >= 48
    assert first.config["JWT_SECRET"] == second.config["JWT_SECRET"] == secret_file.read_text().strip()
    assert secret_file.stat().st_mode & 0o077 == 0


def test_revocation_holds_within_the_same_second(client, make_user, login, runner):
    make_user()
    before_password = login()
    response = client.post(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": "another_long_password"},
        headers={"Authorization": f"Bearer {before_password}"},
    )
    after_password = response.get_json()
    assert _is_refused(client, before_password)
    assert client.get("/account/info", headers={"Authorization": f"Bearer {after_password}"}).status_code == 200

    result = runner.invoke(args=["account", "set-roles", "alice", "--role", "ADMIN"])
    assert result.exit_code == 0, result.output
    assert _is_refused(client, after_password)
    after_roles = login(password="another_long_password")
    validation = client.post("/account/token/validation", json=after_roles).get_json()
    assert validation == {"valid": True, "roles": ["ADMIN"]}

    assert runner.invoke(args=["account", "disable-user", "alice"]).exit_code == 0
    assert _is_refused(client, after_roles)


# --- login throttling -------------------------------------------------------------


def _attempt(client, username="alice", password="wrong_password_9", address="10.0.0.1"):
    return client.post(
        "/account/token/generation",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_throttling_per_username_case_folded(app, client, make_user, db):
    make_user(username="Alice")
    for name in ("Alice", "ALICE", "alice", "Alice", "aLiCe"):
        assert _attempt(client, name).status_code == 401
    refused = _attempt(client, "Alice", PASSWORD)
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= app.config["LOGIN_WINDOW_SECONDS"]
    assert set(refused.get_json()) == {"tracedata", "message"}
    # Another address does not help: the username's count is the one that is full.
    assert _attempt(client, "alice", PASSWORD, address="10.0.0.2").status_code == 429
    # A refused attempt takes nothing: the addresses hold only the evaluated ones.
    held = db("select key, failures from login_failures where key like 'addr:%' order by key")
    assert held == [{"key": "addr:10.0.0.1", "failures": 5}]
    statuses = [row["status"] for row in db("select status from processes where username = 'Alice'")]
    assert statuses.count("FAILED") == 2  # only "Alice" itself is an account; "alice"/"ALICE" are not
    assert "CANCELED_BY_QUOTA" in statuses


def test_a_success_resets_the_count(client, make_user, db):
    make_user()
    for _ in range(4):
        assert _attempt(client).status_code == 401
    assert _attempt(client, password=PASSWORD).status_code == 200
    assert db("select failures from login_failures where key = 'user:alice'") == []
    # The address keeps its 4 failures; the success gave back the attempt it took.
    assert db("select failures from login_failures where key = 'addr:10.0.0.1'") == [{"failures": 4}]
    for _ in range(4):
        assert _attempt(client).status_code == 401
    assert _attempt(client, password=PASSWORD).status_code == 200


def test_throttling_per_client_address(app, client, make_user):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 3
    make_user()
    for name in ("bob", "carol", "dave"):
        assert _attempt(client, name).status_code == 401
    assert _attempt(client, "alice", PASSWORD).status_code == 429
    assert _attempt(client, "alice", PASSWORD, address="10.0.0.9").status_code == 200


def test_the_window_ends(app, client, make_user, clock):
    make_user()
    for _ in range(5):
        assert _attempt(client).status_code == 401
    assert _attempt(client, password=PASSWORD).status_code == 429
    clock.now = clock.now.replace(hour=clock.now.hour + 1)
    assert _attempt(client, password=PASSWORD).status_code == 200


def test_wrong_current_password_counts_as_a_failure(client, make_user, login):
    make_user()
    headers = {"Authorization": f"Bearer {login()}"}
    for _ in range(5):
        response = client.post(
            "/account/password",
            json={"current_password": "wrong_password_9", "new_password": "another_long_password"},
            headers=headers,
        )
        assert response.status_code == 403
    locked = client.post(
        "/account/password",
        json={"current_password": PASSWORD, "new_password": "another_long_password"},
        headers=headers,
    )
    assert locked.status_code == 429


def test_throttling_with_redis_counters(app, client, make_user):
    server = redis.Redis.from_url("redis://127.0.0.1:6379/15")
    server.flushdb()
    app.config["REDIS_URL"] = "redis://127.0.0.1:6379/15"
    try:
        make_user()
        for _ in range(5):
            assert _attempt(client).status_code == 401
        refused = _attempt(client, password=PASSWORD)
        assert refused.status_code == 429
        assert 0 < int(refused.headers["Retry-After"]) <= 900
        assert int(server.hget("account:login-attempts:user:alice", "n")) == 5
        assert int(server.hget("account:login-attempts:addr:10.0.0.1", "n")) == 5  # the refused one took none
        assert _attempt(client, "bob", address="10.0.0.2").status_code == 401
        assert server.hget("account:login-attempts:addr:10.0.0.2", "n") == b"1"
        make_user(username="carol")
        assert _attempt(client, "carol", PASSWORD, address="10.0.0.2").status_code == 200
        assert server.hget("account:login-attempts:addr:10.0.0.2", "n") == b"1"  # a success gives its attempt back
        assert not server.exists("account:login-attempts:user:carol")
    finally:
        server.flushdb()


def test_unknown_user_and_wrong_password_look_the_same(client, make_user):
    make_user()
    unknown = _attempt(client, "nobody_here")
    wrong = _attempt(client, "alice", address="10.0.0.3")
    assert unknown.status_code == wrong.status_code == 401
    volatile = ("request_code", "process_code", "time")

    def strip(body):
        return {**body, "tracedata": {k: v for k, v in body["tracedata"].items() if k not in volatile}}

    assert strip(unknown.get_json()) == strip(wrong.get_json())


# --- strict input -----------------------------------------------------------------


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "body,expected",
    [
        (b'{"username": "alice", "password": NaN}', "not a valid JSON"),
        (b'{"username": "alice", "password": "long_strong_password", "ttl_seconds": Infinity}', "not a valid JSON"),
        (b'\xff\xfe{"username": "alice"}', "UTF-8"),
        (b'{"username": "alice", "password": "long_stro', "not a valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"null", "JSON object"),
        (b"[" * 50000 + b"]" * 50000, "nested"),
        (b'{"a":' * 100 + b"1" + b"}" * 100, "nested"),
        (b'{"username": "alice", "password": "long_strong_password", "role": "ADMIN"}', "role"),
        (b'{"username": 5, "password": "long_strong_password"}', "username"),
    ],
)
def test_bad_json_bodies_are_400_naming_the_problem(client, make_user, body, expected):
    make_user()
    response = client.post("/account/token/generation", data=body, content_type="application/json")
    assert response.status_code == 400
    assert expected in response.get_json()["message"]


@pytest.mark.validation_only
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type_is_415(client, content_type):
    body = json.dumps({"username": "alice", "password": PASSWORD})
    response = client.post("/account/token/generation", data=body, content_type=content_type)
    assert response.status_code == 415
    assert set(response.get_json()) == {"tracedata", "message"}


@pytest.mark.validation_only
def test_body_size_is_capped_before_parsing(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post(
        "/account/token/generation", data=b'{"username": "' + b"a" * 2000 + b'"}', content_type="application/json"
    )
    assert response.status_code == 413
    assert set(response.get_json()) == {"tracedata", "message"}


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "query", ["limit=1e3", "limit=1_000", "limit=%205%20", "limit=%D9%A3", "offset=10000001", "limit=-1", "limit=0"]
)
def test_query_integers_are_plain_and_bounded(auth, client, query):
    response = client.get(f"/account/audit?{query}", headers=auth())
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("Invalid request: ")


@pytest.mark.validation_only
def test_malformed_uuid_is_400(auth, client):
    response = client.get("/account/data/not-a-uuid", headers=auth())
    assert response.status_code == 400


def test_database_errors_are_general500_without_sql(app, client, auth, backend, caplog):
    headers = auth()
    with app.extensions["account_db"].begin() as conn:
        conn.execute(text("DROP TABLE quotas"))
    try:
        response = client.get("/account/quota", headers=headers)
        assert response.status_code == 500
        body = response.get_json()
        assert set(body) == {"tracedata", "message"}
        assert "quotas" not in body["message"].lower() and "select" not in json.dumps(body).lower()
        assert body["tracedata"]["request_code"] in caplog.text
    finally:
        from app.db.tables import quotas

        quotas.create(app.extensions["account_db"])


def test_no_connection_pool_is_shared_across_a_fork(app, monkeypatch):
    import importlib.util
    import sys
    import types

    spec = importlib.util.spec_from_file_location("gunicorn_conf", "gunicorn.conf.py")
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    assert not getattr(conf, "preload_app", False)
    engine = app.extensions["account_db"]
    with engine.connect():
        pass
    inherited = engine.pool
    monkeypatch.setitem(sys.modules, "wsgi", types.SimpleNamespace(app=app))
    conf.post_fork(server=None, worker=None)
    assert engine.pool is not inherited
    assert engine.pool.checkedin() == 0


def test_unknown_user_and_wrong_password_cost_the_same_bcrypt_work(client, make_user, monkeypatch):
    import bcrypt

    make_user()
    calls = []
    original = bcrypt.checkpw
    monkeypatch.setattr(
        bcrypt, "checkpw", lambda password, hashed: calls.append(hashed[:7]) or original(password, hashed)
    )
    assert _attempt(client, "nobody_here").status_code == 401
    unknown = list(calls)
    calls.clear()
    assert _attempt(client, "alice", address="10.0.0.4").status_code == 401
    assert len(unknown) == len(calls) == 1
    assert unknown[0] == calls[0]  # same algorithm and cost: $2b$04$


def test_a_token_verified_before_still_expires_and_needs_the_same_secret(app, monkeypatch):
    """decode_token remembers tokens it verified: a hit still checks exp, and the cache
    key holds the secret and the other settings."""
    import time as time_module

    from app import security

    config = dict(app.config)
    token = security.issue_token(config, {"username": "alice", "token_version": 0}, 60)
    assert security.decode_token(config, token)["sub"] == "alice"
    assert security.decode_token(config, token)["sub"] == "alice"  # a hit
    other = {**config, "JWT_SECRET": config["JWT_SECRET"] + "-rotated"}
    with pytest.raises(security.InvalidToken):
        security.decode_token(other, token)
    with pytest.raises(security.InvalidToken):
        security.decode_token({**config, "JWT_AUDIENCE": "another"}, token)
    later = time_module.time() + 60 + int(config["JWT_LEEWAY"]) + 1
    monkeypatch.setattr(security.time, "time", lambda: later)
    with pytest.raises(security.InvalidToken):
        security.decode_token(config, token)


# Bodies over MAX_CONTENT_LENGTH sent without a Content-Length (chunked)


def _unsized(client, path, body, **kwargs):
    """A POST whose body comes as a stream with no Content-Length, as a chunked request
    reaches the app under gunicorn (wsgi.input_terminated)."""
    return client.post(
        path,
        input_stream=io.BytesIO(body),
        content_type="application/json",
        environ_overrides={"wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"},
        **kwargs,
    )


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "path", ["/account/token/generation", "/account/token/validation", "/v6/account/token/generation"]
)
def test_an_unsized_body_over_the_limit_is_413(app, client, path):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = _unsized(client, path, b'{"username": "' + b"a" * 2000 + b'"}')
    assert response.status_code == 413, response.get_json()
    assert set(response.get_json()) == {"tracedata", "message"}


def test_an_unsized_body_of_exactly_the_limit_is_read_whole(app, client, make_user):
    make_user()
    body = json.dumps({"username": "alice", "password": PASSWORD}).encode()
    app.config["MAX_CONTENT_LENGTH"] = len(body)
    response = _unsized(client, "/account/token/generation", body)
    assert response.status_code == 200, response.get_json()
    app.config["MAX_CONTENT_LENGTH"] = len(body) - 1
    assert _unsized(client, "/account/token/generation", body).status_code == 413


def test_gunicorn_answers_a_chunked_body_over_the_limit_413_without_reading_it_all(database_url, tmp_path):
    """The client sends twice the limit and never ends the body: the answer comes anyway,
    so the service stopped reading at the limit."""
    from tests import servers

    with servers.gunicorn(database_url, tmp_path, JWT_SECRET=TEST_SECRET, MAX_CONTENT_LENGTH="65536") as server:
        host, port = server.host.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(
                b"POST /account/token/generation HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b'{"username": "' + b"a" * 8192
            for _ in range(16):
                conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            response = b""
            while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
                data = conn.recv(65536)
                if not data:
                    break
                response += data
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), response[:300]
    assert set(json.loads(body)) == {"tracedata", "message"}
