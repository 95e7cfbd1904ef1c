"""Error bodies, tracedata, the protected routes, the served operations and the
documentation files, on both databases."""

import ast
import inspect
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
import vrt_lss_account.api as reference_api
from flask import url_for

from tests.conftest import TEST_SECRET, assert_tracedata
from tests.test_v6_api import assert_v6_tracedata

REPO_ROOT = Path(__file__).resolve().parent.parent

# Endpoints the documented API leaves open (no bearer token needed).
PUBLIC_ENDPOINTS = {
    "console.root",  # the console's own files: its API calls carry the token
    "console.page",
    "console.asset",
    "auth.run_token_generation",
    "auth.run_token_validation",
    "system.check",
    "system.version",
    "system.file",
    "api-docs.openapi_json",
    "api-docs.openapi_swagger_ui",
    "api-docs.openapi_redoc",
    "openapi_assets.asset",
}
# The producer API: extensions of the documented API, unknown to the reference client.
EXTENSIONS = {
    "write_processes",
    "write_data",
    "create_quota_reservation",
    "delete_quota_reservation",
    "read_quota_usage",
}


def _assert_general404(response, resource_key, operation="unknown_operation"):
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"resource_key", "detail"}
    assert set(body["detail"]) == {"tracedata"}
    assert body["resource_key"] == resource_key
    return assert_tracedata(body, operation)


# --- 404 and 405 --------------------------------------------------------------------


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/account/nothing"),
        ("GET", "/nothing"),
        ("GET", "/"),
        ("POST", "/account/info/extra"),
        ("GET", "/account/token"),
        ("DELETE", "/account/system"),
        ("GET", "/v7/account/info"),
    ],
)
def test_unknown_paths_are_general404(client, method, path):
    _assert_general404(client.open(path, method=method), path)


@pytest.mark.validation_only
def test_resource_key_of_a_long_unknown_path_is_capped(client):
    path = "/account/" + "x" * 1000
    response = client.get(path)
    _assert_general404(response, path[:256])


def test_unknown_path_with_a_token_is_still_general404(client, auth):
    response = client.get("/account/infos", headers=auth())
    tracedata = _assert_general404(response, "/account/infos")
    assert tracedata["service"] == "ACCOUNT"


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "method,path,allowed",
    [
        ("DELETE", "/account/info", {"GET", "PUT"}),
        ("POST", "/account/info", {"GET", "PUT"}),
        ("GET", "/account/token/generation", {"POST"}),
        ("PUT", "/account/token/validation", {"POST"}),
        ("GET", "/account/password", {"POST"}),
        ("POST", "/account/quota", {"GET"}),
        ("PATCH", "/account/statistics", {"GET"}),
        ("POST", "/account/system/check", {"GET"}),
        ("DELETE", "/account/file/file_en.html", {"GET"}),
        ("GET", "/account/processes", {"POST"}),
    ],
)
def test_wrong_method_is_405_with_tracedata_and_message(client, method, path, allowed):
    response = client.open(path, method=method)
    assert response.status_code == 405
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"] == "Method Not Allowed"
    assert_tracedata(body, "unknown_operation")
    assert allowed <= {method.strip() for method in response.headers["Allow"].split(",")}
    assert method not in response.headers["Allow"]


def test_wrong_method_with_a_token_changes_nothing(client, auth, db):
    headers = auth()
    before = db("select * from users")
    response = client.delete("/account/info", headers=headers)
    assert response.status_code == 405
    assert db("select * from users") == before


# --- the error machinery and the dialects -------------------------------------------


_DIALECT_MODULES = ("app.api.v6", "schemas.v6")


def test_the_core_imports_nothing_of_the_620_dialect():
    """The error handler, the extensions and the operation decorator know no dialect: the
    6.20 package registers its bodies with them, never the other way round."""
    script = (
        "import sys\n"
        "import app.errors, app.exceptions, app.extensions, app.api, app.openapi_assets, app.jsonbody\n"
        "print(' '.join(sorted(name for name in sys.modules if name.startswith(('app', 'schemas')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = result.stdout.split()
    assert "app.errors" in loaded and "schemas.errors" in loaded
    assert [name for name in loaded if name.startswith(_DIALECT_MODULES)] == []
    # Nor later, from inside a function, nor by knowing the dialect's paths.
    for path in ("app/errors.py", "app/extensions.py", "app/api/__init__.py", "app/jsonbody.py"):
        tree = ast.parse((REPO_ROOT / path).read_text())
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        assert [name for name in imported if name.startswith(_DIALECT_MODULES)] == [], path
        strings = [
            node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        assert [text for text in strings if "/v6" in text] == [], path


def test_the_api_packages_import_none_of_their_views():
    """The views import their package (operation, PREFIX); the registries import the
    views: a package that imported them back would close a cycle."""
    for package in ("app/api", "app/api/v6"):
        views = {path.stem for path in (REPO_ROOT / package).glob("*.py")} - {"__init__"}
        tree = ast.parse((REPO_ROOT / package / "__init__.py").read_text())
        modules = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
        names = [
            f"{node.module}.{alias.name}"
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        ]
        inside = {f"{package.replace('/', '.')}.{view}" for view in views}
        assert [name for name in modules + names if name in inside] == [], package


def test_the_exceptions_module_is_a_leaf():
    tree = ast.parse((REPO_ROOT / "app" / "exceptions.py").read_text())
    assert [node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)] == []
    assert {"ApiError", "NotFound"} <= {node.name for node in tree.body if isinstance(node, ast.ClassDef)}


def test_a_registered_dialect_answers_the_errors_under_its_prefix_only(app, client):
    from app.errors import register_dialect

    register_dialect(app, "/x7/", lambda status, message, key, trace: {"x7": [status, key, trace["operation"]]})
    assert client.get("/x7/nothing").get_json() == {"x7": [404, "/x7/nothing", "unknown_operation"]}
    assert client.get("/x7").get_json() == {"x7": [404, "/x7", "unknown_operation"]}
    _assert_general404(client.get("/x70/nothing"), "/x70/nothing")  # a prefix is a whole path segment
    _assert_general404(client.get("/account/nothing"), "/account/nothing")


# --- tracedata ----------------------------------------------------------------------


def test_tracedata_of_an_anonymous_error(client):
    before = datetime.now(UTC).replace(microsecond=0)
    response = client.get("/account/info")
    after = datetime.now(UTC)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    tracedata = assert_tracedata(response.get_json(), "read_info")
    assert str(uuid.UUID(tracedata["request_code"])) == tracedata["request_code"]
    assert str(uuid.UUID(tracedata["process_code"])) == tracedata["process_code"]
    assert before <= datetime.fromisoformat(tracedata["time"]) <= after
    assert set(tracedata) == {
        "process_code",
        "request_code",
        "username",
        "company",
        "service",
        "operation",
        "env",
        "pod",
        "time",
    }


def test_tracedata_names_the_caller_and_the_operation(client, auth):
    headers = auth(company="acme_co")
    response = client.put("/account/info", json={"email": "nope"}, headers=headers)
    assert response.status_code == 400
    assert_tracedata(response.get_json(), "update_info", "alice", "acme_co")
    response = client.get("/account/quota", headers=headers)
    assert response.status_code == 404
    assert_tracedata(response.get_json(), "read_quota", "alice", "acme_co")
    response = client.get("/account/statistics?from=2025-01-31&to=2025-01-01", headers=headers)
    assert response.status_code == 400
    assert_tracedata(response.get_json(), "generate_statistics", "alice", "acme_co")


def test_tracedata_env_and_pod_come_from_the_configuration(app, client):
    app.config.update(ENV_ID="edge7", POD_ID="pod-42")
    tracedata = client.get("/account/quota").get_json()["tracedata"]
    assert (tracedata["env"], tracedata["pod"]) == ("edge7", "pod-42")


def test_every_request_gets_a_fresh_request_code(client, auth):
    headers = auth()
    codes = []
    for _ in range(3):
        codes.append(client.get("/account/info").get_json()["tracedata"]["request_code"])
        codes.append(client.get("/account/nothing").get_json()["detail"]["tracedata"]["request_code"])
        codes.append(client.get("/account/quota", headers=headers).get_json()["detail"]["tracedata"]["request_code"])
        codes.append(client.delete("/account/info").get_json()["tracedata"]["request_code"])
    assert len(set(codes)) == len(codes) == 12
    assert all(str(uuid.UUID(code)) == code for code in codes)


# --- authentication on every route, in both dialects ---------------------------------

# The 6.20 dialect's open operations, by view name: its token, system and document routes.
PUBLIC_V6_VIEWS = {
    "run_token_generation",
    "run_token_validation",
    "check",
    "version",
    "file",
    "openapi_json",
    "openapi_swagger_ui",
    "openapi_redoc",
    "asset",
}
# dialect: (route prefix, is the endpoint open?, the views that must be protected)
DIALECTS = {
    "7.9": (
        "/account/",
        lambda endpoint: endpoint in PUBLIC_ENDPOINTS,
        {
            "change_password",
            "read_info",
            "update_info",
            "generate_statistics",
            "generate_report",
            "read_audit",
            "read_data",
            "write_data",
            "read_quota",
            "write_processes",
        },
    ),
    "6.20": (
        "/v6/account/",
        lambda endpoint: endpoint.rsplit(".", 1)[-1] in PUBLIC_V6_VIEWS,
        {
            "change_password",
            "read_info",
            "update_info",
            "generate_statistics",
            "read_report",
            "read_audit",
            "read_data",
            "read_quota",
            "write_processes",
        },
    ),
}


def _rules(app, dialect):
    prefix = DIALECTS[dialect][0]
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)]


def _requests(app, rules):
    """(method, url, endpoint) of every method of every rule, path arguments filled in."""
    found = []
    with app.test_request_context():
        for rule in rules:
            values = {name: str(uuid.uuid4()) for name in rule.arguments}
            if "filename" in rule.arguments:
                values["filename"] = "file_en.html"
            url = url_for(rule.endpoint, **values)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                found.append((method, url, rule.endpoint))
    return found


def _assert_refused(response, dialect, operation):
    """The dialect's 401 body, naming the operation and no caller."""
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    if dialect == "7.9":
        assert_tracedata(body, operation)
    else:
        assert_v6_tracedata(body["tracedata"], operation)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_route_but_the_public_ones_needs_a_token(app, client, make_user, login, runner, dialect):
    _, is_public, must_be_protected = DIALECTS[dialect]
    make_user(username="dora", roles=("ADMIN", "BOT"))
    revoked = login("dora")
    assert runner.invoke(args=["account", "disable-user", "dora"]).exit_code == 0
    requests = _requests(app, _rules(app, dialect))
    protected = [r for r in requests if not is_public(r[2])]
    if dialect == "7.9":
        assert PUBLIC_ENDPOINTS <= {endpoint for _, _, endpoint in requests}
    else:
        assert {endpoint.rsplit(".", 1)[-1] for _, _, endpoint in requests if is_public(endpoint)} == PUBLIC_V6_VIEWS
    assert {endpoint.rsplit(".", 1)[-1] for _, _, endpoint in protected} >= must_be_protected
    bad_headers = [
        {},
        {"Authorization": "Bearer not.a.token"},
        {"Authorization": f"Bearer {revoked}"},
        {"Authorization": f"Basic alice:{TEST_SECRET}"},
    ]
    for method, url, endpoint in protected:
        for headers in bad_headers:
            response = client.open(url, method=method, json={}, headers=headers)
            assert response.status_code == 401, (method, url, headers, response.get_json())
            _assert_refused(response, dialect, endpoint.rsplit(".", 1)[-1])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_public_routes_answer_without_a_token(app, client, dialect):
    prefix, is_public, _ = DIALECTS[dialect]
    public = [r for r in _requests(app, _rules(app, dialect)) if is_public(r[2])]
    if dialect == "7.9":
        assert {endpoint for _, _, endpoint in public} == PUBLIC_ENDPOINTS
    for method, url, endpoint in public:
        response = client.open(url, method=method, json={"username": "nobody", "password": "x" * 12})
        # No "bearer token required" answer (a wrong login is a 401 of its own, without the challenge).
        assert "WWW-Authenticate" not in response.headers, (method, url, endpoint)
        assert response.status_code < 500
    assert client.get(f"/{prefix.strip('/')}/system/check").status_code == 200
    assert client.post(f"/{prefix.strip('/')}/token/validation", json="x" * 20).get_json() == {
        "valid": False,
        "roles": [],
    }


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_openapi_document_marks_exactly_the_protected_operations(app, client, dialect):
    prefix, is_public, _ = DIALECTS[dialect]
    spec = client.get(f"{prefix}openapi/openapi.json").get_json()
    secured = {
        op["operationId"]
        for methods in spec["paths"].values()
        for name, op in methods.items()
        if name != "parameters" and op.get("security")
    }
    protected = {rule.endpoint.rsplit(".", 1)[-1] for rule in _rules(app, dialect) if not is_public(rule.endpoint)}
    assert secured == protected


# --- the served operations ----------------------------------------------------------


def _reference_operations():
    """The operation names of the reference client 7.9: the public methods of its api classes."""
    names = set()
    for _, api_class in inspect.getmembers(reference_api, inspect.isclass):
        if not api_class.__name__.endswith("Api"):
            continue
        for name, _ in inspect.getmembers(api_class, inspect.isfunction):
            if not name.startswith("_") and not name.endswith(("_with_http_info", "_without_preload_content")):
                names.add(name)
    return names


def test_operation_ids_are_the_reference_clients_plus_the_producer_extensions(client):
    reference = _reference_operations()
    assert {"run_token_generation", "read_info", "update_info", "read_quota", "file"} <= reference
    assert len(reference) == 13
    spec = client.get("/account/openapi/openapi.json").get_json()
    served = [
        op["operationId"] for methods in spec["paths"].values() for name, op in methods.items() if name != "parameters"
    ]
    assert len(served) == len(set(served))
    assert set(served) == reference | EXTENSIONS


# --- documentation files ------------------------------------------------------------


@pytest.mark.parametrize("filename,lang", [("file_en.html", "en"), ("file_ru.html", "ru")])
def test_documentation_pages_are_html(client, filename, lang):
    response = client.get(f"/account/file/{filename}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.startswith(f'<!DOCTYPE html><html lang="{lang}">')
    for operation in _reference_operations():
        assert operation in page


def test_openapi_json_is_served_as_a_file_too(client):
    response = client.get("/account/file/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == client.get("/account/openapi/openapi.json").get_json()


FILE_MARKERS = ("create_app", "ACCOUNT_", "import ", "root:")


def _assert_no_file_contents(response):
    data = response.get_data(as_text=True)
    for marker in FILE_MARKERS:
        assert marker not in data
    assert (REPO_ROOT / "wsgi.py").read_text() not in data


@pytest.mark.validation_only
@pytest.mark.parametrize(
    "path,resource_key,operation",
    [
        ("/account/file/wsgi.py", "wsgi.py", "file"),
        ("/account/file/README.md", "README.md", "file"),
        ("/account/file/config.py", "config.py", "file"),
        ("/account/file/jwt_secret", "jwt_secret", "file"),
        ("/account/file/FILE_EN.HTML", "FILE_EN.HTML", "file"),
        ("/account/file/file_en.html%00", "file_en.html\x00", "file"),
        ("/account/file/file_en.html.bak", "file_en.html.bak", "file"),
        ("/account/file/......", "......", "file"),
        ("/account/file/..%5Cwsgi.py", "..\\wsgi.py", "file"),
        ("/account/file/..%252Fwsgi.py", "..%2Fwsgi.py", "file"),
        ("/account/file/C:%5Cwindows%5Cwin.ini", "C:\\windows\\win.ini", "file"),
        ("/account/file/../wsgi.py", "/account/file/../wsgi.py", "unknown_operation"),
        ("/account/file/%2e%2e%2fwsgi.py", "/account/file/../wsgi.py", "unknown_operation"),
        ("/account/file/..%2F..%2Fwsgi.py", "/account/file/../../wsgi.py", "unknown_operation"),
        ("/account/file/%2Fetc%2Fpasswd", "/account/file//etc/passwd", "unknown_operation"),
        ("/account/file//etc/passwd", "/account/file//etc/passwd", "unknown_operation"),
        ("/account/file/%2Fwork%2Fmain%2Fwsgi.py", "/account/file//work/main/wsgi.py", "unknown_operation"),
        ("/account/file/docs%2Ffile_en.html", "/account/file/docs/file_en.html", "unknown_operation"),
    ],
)
def test_unknown_files_and_path_tricks_are_general404_without_contents(client, path, resource_key, operation):
    response = client.get(path)
    _assert_general404(response, resource_key, operation)
    _assert_no_file_contents(response)


@pytest.mark.validation_only
@pytest.mark.parametrize("name", ["..", "%2e%2e", "x", "a" * 129])
def test_file_names_outside_the_documented_length_are_400(client, name):
    # FileParameters.filename is 6..128 characters: `..` is refused before any lookup.
    response = client.get(f"/account/file/{name}")
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"tracedata", "message"}
    assert body["message"].startswith("Invalid request: filename: ")
    assert_tracedata(body, "file")
    _assert_no_file_contents(response)
