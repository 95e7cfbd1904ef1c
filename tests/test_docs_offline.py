"""The interactive API docs (Swagger UI, ReDoc; 7.9 and /v6) in a real headless
Chromium that can reach nothing but the service: every operation is listed, and the page
asks the network for nothing beyond the service. Chromium is Debian's package (`make
test` installs it when missing)."""

import json
import re
import subprocess
import urllib.request

import pytest

from tests import chromium
from tests.servers import gunicorn

# The pages, their assets and the OpenAPI documents are the same whatever the database:
# one backend (PostgreSQL when the run has it), as the fuzzing.
pytestmark = pytest.mark.one_backend

CHROMIUM_SECONDS = 120
# Every host but the service's is unknown: a page that needs a CDN stays blank.
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--virtual-time-budget=20000")


@pytest.fixture(scope="module")
def server(database_url, tmp_path_factory):
    with gunicorn(database_url, tmp_path_factory.mktemp("docs")) as running:
        yield running


def _page_requests(netlog_path):
    """The URLs the page asked for: the page itself and every request it initiated. The
    browser's own requests (updates, autofill...) have no initiating origin and are left
    out; --host-resolver-rules keeps them from going anywhere anyway."""
    log = json.loads(netlog_path.read_text())
    start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] != start_job:
            continue
        if params.get("request_type") == "main frame" or params.get("initiator", "not an origin") != "not an origin":
            urls.append(params["url"])
    return urls


def _render(url, tmp_path):
    """(DOM after the page's scripts ran, URLs the page requested)."""
    netlog = tmp_path / "netlog.json"
    result = subprocess.run(
        chromium.command(tmp_path / "profile", *OFFLINE_FLAGS, f"--log-net-log={netlog}", "--dump-dom", url),
        capture_output=True,
        text=True,
        timeout=CHROMIUM_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout, _page_requests(netlog)


def _spec(server, prefix):
    with urllib.request.urlopen(f"{server.host}{prefix}/account/openapi/openapi.json", timeout=30) as response:
        return json.load(response)


@pytest.mark.parametrize("prefix", ["", "/v6"])
def test_swagger_ui_lists_every_operation_offline(server, tmp_path, prefix):
    spec = _spec(server, prefix)
    dom, requested = _render(f"{server.host}{prefix}/account/openapi/docs", tmp_path)

    operations = re.findall(r'class="opblock-summary-method">([A-Z]+)<.*?data-path="([^"]+)"', dom)
    expected = [
        (method.upper(), path) for path, item in spec["paths"].items() for method in item if method != "parameters"
    ]
    assert sorted(operations) == sorted(expected)
    assert len(expected) >= 13
    assert requested, "the netlog recorded no request of the page"
    assert all(url.startswith(server.host) for url in requested), requested
    assert f"{server.host}{prefix}/account/openapi/assets/swagger-ui/swagger-ui-bundle.js" in requested


@pytest.mark.parametrize("prefix", ["", "/v6"])
def test_redoc_lists_every_operation_offline(server, tmp_path, prefix):
    spec = _spec(server, prefix)
    dom, requested = _render(f"{server.host}{prefix}/account/openapi/redoc", tmp_path)

    listed = set(re.findall(r'data-section-id="(?:tag/[^/"]+/)?operation/([A-Za-z_]+)"', dom))
    expected = {
        item["operationId"] for path in spec["paths"].values() for item in path.values() if "operationId" in item
    }
    assert listed == expected
    assert requested, "the netlog recorded no request of the page"
    # ReDoc's sidebar logo lives on a CDN: the page's Content-Security-Policy stops it
    # before it reaches the network.
    assert all(url.startswith(server.host) for url in requested), requested
    assert f"{server.host}{prefix}/account/openapi/assets/redoc/redoc.standalone.js" in requested


# --- the same, without a browser ----------------------------------------------------------


@pytest.mark.parametrize("prefix", ["", "/v6"])
@pytest.mark.parametrize("page", ["docs", "redoc"])
def test_docs_pages_name_no_other_host_and_forbid_one(client, prefix, page):
    response = client.get(f"{prefix}/account/openapi/{page}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), html
    assert "cdn" not in html
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "img-src 'self' data:" in policy
    # The JSON document is no page: no policy there.
    assert "Content-Security-Policy" not in client.get(f"{prefix}/account/openapi/openapi.json").headers


@pytest.mark.parametrize("prefix", ["", "/v6"])
@pytest.mark.parametrize(
    "bundle,filename,mimetype,starts",
    [
        ("swagger-ui", "swagger-ui-bundle.js", "text/javascript", b""),
        ("swagger-ui", "swagger-ui-standalone-preset.js", "text/javascript", b""),
        ("swagger-ui", "swagger-ui.css", "text/css", b""),
        ("redoc", "redoc.standalone.js", "text/javascript", b"/*! For license information"),
    ],
)
def test_assets_are_served(client, prefix, bundle, filename, mimetype, starts):
    response = client.get(f"{prefix}/account/openapi/assets/{bundle}/{filename}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    body = response.get_data()
    assert len(body) > 100_000 and body.startswith(starts)
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/account/openapi/assets/redoc/LICENSE",
        "/account/openapi/assets/redoc/README.md",
        "/account/openapi/assets/swagger-ui/index.css",
        "/account/openapi/assets/swagger-ui/..%2Fflask_swagger_ui.py",
        "/account/openapi/assets/nothing/redoc.standalone.js",
        "/account/openapi/assets/redoc/redoc.standalone.js.map",
    ],
)
def test_only_the_listed_assets_are_served(client, path):
    response = client.get(path)
    assert response.status_code == 404
    body = response.get_json()
    assert set(body) == {"resource_key", "detail"}
    assert set(body["detail"]) == {"tracedata"}


def test_v6_assets_answer_a_missing_file_with_the_6_20_body(client):
    response = client.get("/v6/account/openapi/assets/redoc/nothing.js")
    assert response.status_code == 404
    assert set(response.get_json()) == {"resource_id", "detail"}
