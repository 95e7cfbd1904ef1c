"""Tokens and passwords: POST /account/token/generation, /account/token/validation and
/account/password, on both databases."""

import json
import time

import jwt
import pytest

from app.db import transaction
from app.db import users as user_queries
from app.db.tables import users
from app.security import issue_token
from tests.conftest import PASSWORD, TEST_SECRET, assert_tracedata

NEW_PASSWORD = "another_long_password"
VOLATILE = ("request_code", "process_code", "time")


def _generate(client, username="alice", password=PASSWORD, **extra):
    return client.post("/account/token/generation", json={"username": username, "password": password, **extra})


def _validate(client, body):
    response = client.post("/account/token/validation", json=body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _claims(app, token):
    return jwt.decode(
        token,
        TEST_SECRET,
        algorithms=["HS256"],
        audience=app.config["JWT_AUDIENCE"],
        issuer=app.config["JWT_ISSUER"],
    )


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _change_password(client, token, current=PASSWORD, new=NEW_PASSWORD):
    return client.post(
        "/account/password", json={"current_password": current, "new_password": new}, headers=_bearer(token)
    )


def _account(db, username="alice"):
    return db("select password_hash, token_version, edit_date from users where username = :u", u=username)[0]


def _own_actions(db, operation, username="alice"):
    return db(
        "select p.status from processes p join process_requests r on r.process_code = p.process_code"
        " where r.operation = :op and p.username = :u",
        op=operation,
        u=username,
    )


def _without_volatile(body):
    return {**body, "tracedata": {k: v for k, v in body["tracedata"].items() if k not in VOLATILE}}


# --- token generation ---------------------------------------------------------------


def test_generation_returns_the_jwt_as_a_bare_json_string(app, client, make_user, db):
    make_user(roles=("USER", "ADMIN"))
    before = int(time.time())
    response = _generate(client)
    after = int(time.time())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    token = response.get_json()
    assert isinstance(token, str) and token.count(".") == 2
    # Exactly the JSON string: the reference client sends the body back verbatim as a header.
    assert response.get_data() == json.dumps(token).encode()
    claims = _claims(app, token)
    assert claims["sub"] == "alice"
    assert claims["ver"] == 0
    assert before <= claims["iat"] <= after
    assert claims["exp"] - claims["iat"] == 86400  # the documented default ttl_seconds
    assert _validate(client, token) == {"valid": True, "roles": ["USER", "ADMIN"]}
    assert [row["status"] for row in _own_actions(db, "run_token_generation")] == ["FINISHED_IN_TIME"]


@pytest.mark.parametrize("ttl", [60, 3600, 31556926])
def test_token_expiry_reflects_ttl_seconds(app, client, make_user, ttl):
    make_user()
    before = int(time.time())
    response = _generate(client, ttl_seconds=ttl)
    after = int(time.time())
    assert response.status_code == 200
    claims = _claims(app, response.get_json())
    assert claims["exp"] - claims["iat"] == ttl
    assert before + ttl <= claims["exp"] <= after + ttl


def test_a_token_stops_validating_once_its_ttl_has_passed(app, client, make_user):
    user = make_user()
    # Issued by the service's own signer an hour ago with the shortest ttl: long expired.
    expired = issue_token(app.config, user, 60, now=time.time() - 3600)
    fresh = issue_token(app.config, user, 60)
    assert _validate(client, expired) == {"valid": False, "roles": []}
    assert client.get("/account/info", headers=_bearer(expired)).status_code == 401
    assert _validate(client, fresh) == {"valid": True, "roles": ["USER"]}


@pytest.mark.validation_only
@pytest.mark.parametrize("ttl", [59, 0, -1, 31556927, 10**12, "3600", 3600.5, None])
def test_ttl_seconds_out_of_bounds_is_400_naming_the_field(client, make_user, db, ttl):
    make_user()
    response = _generate(client, ttl_seconds=ttl)
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert "ttl_seconds" in body["message"]
    assert_tracedata(body, "run_token_generation")
    assert _own_actions(db, "run_token_generation") == []  # refused before any login attempt


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "username,password,field",
    [
        ("a", PASSWORD, "username"),
        ("x" * 257, PASSWORD, "username"),
        ("!!!", PASSWORD, "username"),
        ("alice", "short_pw9", "password"),
        ("alice", "p" * 257, "password"),
        (None, PASSWORD, "username"),
    ],
)
def test_credentials_out_of_bounds_are_400_naming_the_field(client, make_user, username, password, field):
    make_user()
    response = _generate(client, username, password)
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(f"Invalid request: {field}: ")


@pytest.mark.parametrize("case", ["unknown_user", "wrong_password", "disabled_user"])
def test_refused_logins_share_one_401_without_a_hint(client, make_user, db, case):
    make_user()
    make_user(username="dora", enabled=False)
    reference = _generate(client, "alice", "wrong_password_9")
    attempt = {
        "unknown_user": ("nobody_here", PASSWORD),
        "wrong_password": ("alice", "wrong_password_8"),
        "disabled_user": ("dora", PASSWORD),  # the right password of a disabled account
    }[case]
    response = _generate(client, *attempt)
    assert reference.status_code == response.status_code == 401
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert_tracedata(body, "run_token_generation")
    assert _without_volatile(body) == _without_volatile(reference.get_json())
    for hint in ("exist", "unknown", "disabled", "not found"):
        assert hint not in body["message"].lower()
    if case == "disabled_user":
        assert [row["status"] for row in _own_actions(db, "run_token_generation", "dora")] == ["FAILED"]


# --- token validation ---------------------------------------------------------------


def test_validation_of_a_valid_token_gives_its_roles(client, make_user, login):
    make_user(roles=("PARTNER", "BOT"))
    token = login()
    assert _validate(client, token) == {"valid": True, "roles": ["PARTNER", "BOT"]}
    # The reference client sends the token back exactly as received: a quoted JSON string.
    assert _validate(client, json.dumps(token)) == {"valid": True, "roles": ["PARTNER", "BOT"]}


def test_validation_of_a_user_without_roles(client, make_user, login):
    make_user(roles=())
    assert _validate(client, login()) == {"valid": True, "roles": []}


def _tampered_tokens(app, token, bob_token):
    header, payload, signature = token.split(".")
    _, bob_payload, bob_signature = bob_token.split(".")
    resigned = jwt.encode(
        {**_claims(app, token), "sub": "bob"}, "another-secret-0123456789-abcdefghijkl", algorithm="HS256"
    )
    return {
        "payload_swapped": f"{header}.{bob_payload}.{signature}",
        "signature_swapped": f"{header}.{payload}.{bob_signature}",
        "signature_cut": f"{header}.{payload}.{signature[:-4]}",
        "other_secret": resigned,
    }


@pytest.mark.validation_only
@pytest.mark.parametrize("kind", ["payload_swapped", "signature_swapped", "signature_cut", "other_secret"])
def test_tampered_tokens_are_not_valid(app, client, make_user, login, kind):
    make_user(roles=("USER",))
    make_user(username="bob", roles=("ADMIN",))
    token = _tampered_tokens(app, login(), login("bob"))[kind]
    assert _validate(client, token) == {"valid": False, "roles": []}
    assert _validate(client, json.dumps(token)) == {"valid": False, "roles": []}
    assert client.get("/account/info", headers=_bearer(token)).status_code == 401


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "garbage",
    [
        "not.a.token",
        "x" * 20,
        "." * 10,
        "eyJhbGciOiJIUzI1NiJ9.e30.e30",
        "\"'\"'\"'\"'\"'",
        "Bearer abc.def.ghi",
        "ы" * 1000,
    ],
)
def test_garbage_tokens_are_not_valid_and_not_an_error(client, garbage):
    assert _validate(client, garbage) == {"valid": False, "roles": []}


def test_token_of_a_disabled_user_is_not_valid(app, client, make_user, login):
    make_user()
    token = login()
    with app.app_context(), transaction() as conn:
        user_queries.set_enabled(conn, "alice", False)
    assert _validate(client, token) == {"valid": False, "roles": []}


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "body,expected",
    [
        ({"token": "abc.def.ghi"}, "JSON string"),
        (["abc.def.ghi"], "JSON string"),
        (12345678901, "JSON string"),
        (None, "JSON string"),  # the JSON null, not an absent body
        ("a.b.c", "between 10 and 1000"),
        ("a" * 1001, "between 10 and 1000"),
    ],
)
def test_validation_body_must_be_a_documented_token_string(client, body, expected):
    response = client.post("/account/token/validation", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 400
    assert expected in response.get_json()["message"]
    assert_tracedata(response.get_json(), "run_token_validation")


def test_validation_needs_a_json_content_type(client, make_user, login):
    make_user()
    response = client.post("/account/token/validation", data=json.dumps(login()), content_type="text/plain")
    assert response.status_code == 415


# --- Bearer header ------------------------------------------------------------------


@pytest.mark.parametrize("template", ["Bearer {}", 'Bearer "{}"', "bearer {}", "Bearer   {}  "])
def test_bearer_accepts_the_token_bare_or_quoted(client, make_user, login, template):
    make_user()
    token = login()
    response = client.get("/account/info", headers={"Authorization": template.format(token)})
    assert response.status_code == 200
    assert response.get_json()["username"] == "alice"


# --- password change ----------------------------------------------------------------


def test_password_change_gives_a_new_token_and_revokes_the_old_ones(app, client, make_user, login, db):
    make_user()
    old_token = login()
    other_old_token = login()
    before = _account(db)
    response = _change_password(client, old_token)
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    new_token = response.get_json()
    assert isinstance(new_token, str) and new_token != old_token
    assert response.get_data() == json.dumps(new_token).encode()
    claims = _claims(app, new_token)
    assert claims["sub"] == "alice" and claims["ver"] == before["token_version"] + 1

    after = _account(db)
    assert after["token_version"] == before["token_version"] + 1
    assert after["password_hash"] != before["password_hash"]
    assert NEW_PASSWORD not in after["password_hash"]
    assert after["edit_date"] > before["edit_date"]
    assert [row["status"] for row in _own_actions(db, "change_password")] == ["FINISHED_IN_TIME"]

    for token in (old_token, other_old_token):
        assert _validate(client, token) == {"valid": False, "roles": []}
        unauthorized = client.get("/account/info", headers=_bearer(token))
        assert unauthorized.status_code == 401
        assert_tracedata(unauthorized.get_json(), "read_info")
    assert _validate(client, new_token) == {"valid": True, "roles": ["USER"]}
    assert client.get("/account/info", headers=_bearer(new_token)).get_json()["username"] == "alice"

    assert _generate(client, password=PASSWORD).status_code == 401
    assert _generate(client, password=NEW_PASSWORD).status_code == 200


def test_password_change_with_a_quoted_bearer_token(client, make_user, login):
    make_user()
    response = _change_password(client, json.dumps(login()))
    assert response.status_code == 200
    assert _validate(client, response.get_json())["valid"] is True


def test_wrong_current_password_is_403_and_changes_nothing(client, make_user, login, db):
    make_user()
    token = login()
    before = _account(db)
    response = _change_password(client, token, current="wrong_password_9")
    assert response.status_code == 403
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert_tracedata(body, "change_password", "alice", "acme")
    assert _account(db) == before
    assert [row["status"] for row in _own_actions(db, "change_password")] == ["FAILED"]
    assert _validate(client, token)["valid"] is True
    assert _generate(client, password=NEW_PASSWORD).status_code == 401


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "changes,field",
    [
        ({"new_password": "n" * 9}, "new_password"),
        ({"new_password": "n" * 257}, "new_password"),
        ({"new_password": ""}, "new_password"),
        ({"new_password": None}, "new_password"),
        ({"new_password": 1234567890}, "new_password"),
        ({"current_password": "c" * 9}, "current_password"),
        ({"current_password": "c" * 257}, "current_password"),
        ({"username": "bob"}, "username"),
    ],
)
def test_password_change_bounds_are_400_and_change_nothing(client, make_user, login, db, changes, field):
    make_user()
    token = login()
    before = _account(db)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, **changes}
    response = client.post("/account/password", json=body, headers=_bearer(token))
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(f"Invalid request: {field}: ")
    assert_tracedata(response.get_json(), "change_password", "alice", "acme")
    assert _account(db) == before
    assert _validate(client, token)["valid"] is True


def test_password_change_without_a_field_is_400(client, make_user, login):
    make_user()
    response = client.post("/account/password", json={"current_password": PASSWORD}, headers=_bearer(login()))
    assert response.status_code == 400
    assert "new_password" in response.get_json()["message"]


@pytest.mark.parametrize("length", [10, 256])
def test_new_password_at_the_bounds_is_accepted(client, make_user, login, length):
    make_user()
    new_password = "n" * length
    response = _change_password(client, login(), new=new_password)
    assert response.status_code == 200
    assert _generate(client, password=new_password).status_code == 200


# --- passwords: every character counts -----------------------------------------------

UNICODE_256 = ("Пароль-密码-🔑-ñ" * 30)[:256]


def test_a_256_character_unicode_password_counts_in_full(client, make_user, db):
    assert len(UNICODE_256) == 256 and len(UNICODE_256.encode()) > 500
    make_user(password=UNICODE_256)
    assert _generate(client, password=UNICODE_256).status_code == 200
    assert _generate(client, password=UNICODE_256[:-1] + "x").status_code == 401
    assert _generate(client, password=UNICODE_256[:72]).status_code == 401
    assert _generate(client, password=UNICODE_256 + "x").status_code == 400  # 257 characters
    assert UNICODE_256 not in _account(db)["password_hash"]


def test_a_256_character_unicode_password_can_be_set_by_a_change(client, make_user, login):
    make_user()
    response = _change_password(client, login(), new=UNICODE_256)
    assert response.status_code == 200
    assert _generate(client, password=UNICODE_256).status_code == 200
    assert _generate(client, password=UNICODE_256[:-1]).status_code == 401


@pytest.mark.parametrize("prefix", ["A" * 72, "é" * 36, "🔑" * 18])  # 72 bytes of UTF-8: bcrypt's limit
def test_characters_past_72_bytes_still_count(client, make_user, prefix):
    make_user(password=prefix + "X")
    assert _generate(client, password=prefix + "Y").status_code == 401
    assert _generate(client, password=prefix).status_code == 401
    assert _generate(client, password=prefix + "X").status_code == 200


def test_the_token_lookup_reads_the_user_as_find_user_does(app, make_user):
    """user_for_token's fast path (the Core statement on the driver's cursor on
    PostgreSQL) returns exactly what find_user returns, JSON columns and dates included."""
    from app import db
    from app.db.users import find_user, find_user_for_token

    make_user(username="lookup_user", roles=("USER", "ADMIN"), timezone=-5)
    with app.app_context():
        with db.transaction() as conn:
            conn.execute(
                users.update()
                .where(users.c.username == "lookup_user")
                .values(attributes=[{"key": "k", "value": "v"}], email="l@example.com")
            )
        with db.connection() as conn:
            expected = find_user(conn, "lookup_user")
        assert expected["roles"] == ["USER", "ADMIN"] and expected["attributes"] == [{"key": "k", "value": "v"}]
        assert db.lookup(lambda conn: find_user_for_token(conn, "lookup_user")) == expected
        assert db.lookup(lambda conn: find_user_for_token(conn, "nobody")) is None
