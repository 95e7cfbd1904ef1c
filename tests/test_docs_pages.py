"""The documentation pages file_en.html and file_ru.html of both dialects: the Russian
page carries the English page's behaviour notes, `code` renders as code, responses come
in status order (in the OpenAPI documents too) and no parameter is listed twice."""

import re

import pytest
from markupsafe import escape

from app.api.v6 import ApiV6
from app.docs import DESCRIPTIONS_RU

PREFIXES = ["", "/v6"]


def _operations(spec):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method != "parameters":
                yield path, method, op


def _sections(page):
    """{operationId: the HTML of its section}."""
    parts = re.split(r'(?=<h3 id=")', page.split("</h2>", 2)[1].split("<h2>", 1)[0])
    return {re.match(r'<h3 id="([^"]+)"', part).group(1): part for part in parts if part.startswith("<h3")}


def _page(client, prefix, name):
    response = client.get(f"{prefix}/account/file/{name}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _spec(client, prefix):
    return client.get(f"{prefix}/account/openapi/openapi.json").get_json()


@pytest.mark.parametrize("prefix,descriptions", [("", DESCRIPTIONS_RU), ("/v6", ApiV6.DESCRIPTIONS_RU)])
def test_the_russian_page_has_a_note_wherever_the_english_page_has_one(client, prefix, descriptions):
    spec = _spec(client, prefix)
    english, russian = (_sections(_page(client, prefix, name)) for name in ("file_en.html", "file_ru.html"))
    described = {op["operationId"] for _, _, op in _operations(spec) if op.get("description")}
    assert len(described) >= 8
    for op_id in {op["operationId"] for _, _, op in _operations(spec)}:
        notes_en = re.findall(r"\n<p>((?!<code>|<em>).+?)</p>", english[op_id])
        notes_ru = re.findall(r"\n<p>((?!<code>|<em>).+?)</p>", russian[op_id])
        assert len(notes_ru) == len(notes_en) == (1 if op_id in described else 0), op_id
        if op_id in described:
            assert re.search("[а-яё]", notes_ru[0]), notes_ru  # Russian, not the English text
            plain = re.sub(r"</?code>", "`", notes_ru[0]).replace("&#34;", '"').replace("&#39;", "'")
            assert plain == descriptions[op_id]


def test_the_russian_notes_say_what_the_english_ones_say(client):
    russian = _sections(_page(client, "", "file_ru.html"))
    assert "429" in russian["run_token_generation"] and "Retry-After" in russian["run_token_generation"]
    assert "<code>valid: false</code>" in russian["run_token_validation"]
    assert "<code>DATA_MAX_CONTENT_LENGTH</code>" in russian["write_data"] and "413" in russian["write_data"]
    assert "resource_key <code>quota</code>" in russian["read_quota"]
    assert "request_code" in russian["write_processes"]
    v6 = _sections(_page(client, "/v6", "file_ru.html"))
    assert "(403)" in v6["update_info"] and "10^7" in v6["generate_statistics"]
    assert "company_key" in v6["read_audit"] and "General404" in v6["read_data"]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", ["file_en.html", "file_ru.html"])
def test_backticks_render_as_code(client, prefix, name):
    page = _page(client, prefix, name)
    assert "`" not in page
    sections = _sections(page)
    assert "<code>to</code>" in sections["generate_statistics"]
    assert "<code>valid: false</code>" in sections["run_token_validation"]


def test_backticks_in_text_are_escaped_before_they_become_code():
    from app.docs import _inline, _prose

    assert _inline("a `<b>` and `x`") == "a <code>&lt;b&gt;</code> and <code>x</code>"
    assert _prose("one\nline\n\nsecond `p`") == "<p>one line</p><p>second <code>p</code></p>"
    assert _inline("an odd ` backtick") == "an odd ` backtick"


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", ["file_en.html", "file_ru.html"])
def test_responses_are_listed_in_status_order(client, prefix, name):
    sections = _sections(_page(client, prefix, name))
    for op_id, section in sections.items():
        statuses = [int(code) for code in re.findall(r"<li>(\d{3}) ", section)]
        assert len(statuses) >= 2, op_id
        assert statuses == sorted(statuses), (op_id, statuses)


@pytest.mark.parametrize("prefix", PREFIXES)
def test_the_openapi_documents_list_responses_in_status_order(client, prefix):
    for path, method, op in _operations(_spec(client, prefix)):
        statuses = list(op["responses"])
        assert statuses == sorted(statuses, key=int), (path, method, statuses)
        assert statuses[0] in ("200", "204")


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize("name", ["file_en.html", "file_ru.html"])
def test_no_parameter_is_listed_twice(client, prefix, name):
    spec = _spec(client, prefix)
    sections = _sections(_page(client, prefix, name))
    data_ops = [op["operationId"] for path, _, op in _operations(spec) if "/data/" in path]
    assert data_ops  # read_data (and write_data in 7.9)
    for op_id, section in sections.items():
        rows = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td>", section)
        assert len(rows) == len(set(rows)), (op_id, rows)
    for op_id in data_ops:
        rows = re.findall(r"<tr><td>([^<]+)</td><td>(path)</td>", sections[op_id])
        assert len(rows) == 1, (op_id, rows)


def test_the_template_escapes_every_text_of_the_document(app):
    """Names, paths, summaries, notes and types come from the document: none becomes markup."""
    from app.docs import render_html

    evil = '<script>alert("x")</script>'
    spec = {
        "info": {"version": evil},
        "paths": {
            f"/a/{evil}": {
                "parameters": [{"name": evil, "in": "path", "required": True, "schema": {"type": "string"}}],
                "get": {
                    "operationId": f"op{evil}",
                    "summary": f"sum `{evil}` {evil}",
                    "description": f"note {evil}\n\nsecond `code`",
                    "security": [{"ApiKeyAuth": []}],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": f"#/c/{evil}"}}}},
                    "responses": {"default": evil, "200": {"content": {"a/b": {"schema": {"enum": [evil]}}}}},
                },
            }
        },
        "components": {"schemas": {evil: {"required": [evil], "properties": {evil: {"pattern": evil}}}}},
    }
    with app.test_request_context():
        page = render_html(spec, "en")
    # 15: all but the $ref, of which the type shows the last path segment.
    assert "<script" not in page and page.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") == 15
    assert f"<code>{escape(evil)}</code>" in page and "<p>second <code>code</code></p>" in page
    assert "<li>200 object enum: &lt;script&gt;" in page and page.index("<li>200 ") < page.index("<li>default ")
    assert "<p><em>Requires a bearer token" in page and "<td>yes</td>" in page
