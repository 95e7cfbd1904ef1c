"""The documentation files served by GET /account/file/{filename}.

Each page is rendered from the service's own OpenAPI document, so the pages cannot drift
from the API. Files are looked up by name in a fixed table: no name can reach the file
system, so no path can leave the documentation folder.
"""

import json
from functools import lru_cache

from flask import current_app
from markupsafe import escape

from app.extensions import api

# Operation summaries in Russian, keyed by operationId; a test fails if one is missing.
SUMMARIES_RU = {
    "run_token_generation": "Получение токена по паре логин - пароль.",
    "run_token_validation": "Проверка токена.",
    "change_password": "Смена пароля на новый и получение нового токена.",
    "read_info": "Получение информации об аккаунте.",
    "update_info": "Обновление информации о пользователе.",
    "read_quota": "Чтение списка квот по пользователю.",
    "check": "Проверка доступности сервиса.",
    "version": "Получение версии сервиса.",
    "file": "Получение файла с документацией на этот сервис.",
    "generate_statistics": "Статистика за период.",
    "generate_report": "Создание отчета со статистикой по использованию.",
    "read_audit": "Действия пользователей за период.",
    "read_data": "Получение данных по tracedata.process_code.",
    "write_processes": "Запись процессов расчётными сервисами (расширение API).",
    "write_data": "Запись входного или выходного файла процесса (расширение API).",
    "create_quota_reservation": "Резервирование квоты пользователя под процесс (расширение API).",
    "delete_quota_reservation": "Освобождение резерва квоты (расширение API).",
    "read_quota_usage": "Использование квот пользователя за текущие сутки (расширение API).",
}

_TEXT = {
    "en": {
        "lang": "en",
        "title": "VRt.Account API",
        "operations": "Operations",
        "schemas": "Schemas",
        "parameters": "Parameters",
        "body": "Request body",
        "responses": "Responses",
        "auth": "Requires a bearer token (Authorization: Bearer JWT).",
        "name": "Name",
        "in": "In",
        "type": "Type",
        "required": "Required",
        "yes": "yes",
        "no": "no",
        "field": "Field",
    },
    "ru": {
        "lang": "ru",
        "title": "VRt.Account API",
        "operations": "Операции",
        "schemas": "Схемы данных",
        "parameters": "Параметры",
        "body": "Тело запроса",
        "responses": "Ответы",
        "auth": "Требуется токен (Authorization: Bearer JWT).",
        "name": "Имя",
        "in": "Где",
        "type": "Тип",
        "required": "Обязательный",
        "yes": "да",
        "no": "нет",
        "field": "Поле",
    },
}


def _type(schema):
    if not isinstance(schema, dict):
        return ""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    parts = [str(schema.get("type", "object"))]
    if schema.get("type") == "array" and "items" in schema:
        parts = [f"array of {_type(schema['items'])}"]
    if "format" in schema:
        parts.append(f"<{schema['format']}>")
    if "enum" in schema:
        parts.append("enum: " + ", ".join(str(v) for v in schema["enum"] if v is not None))
    for low, high in (("minLength", "maxLength"), ("minimum", "maximum"), ("minItems", "maxItems")):
        if low in schema or high in schema:
            parts.append(f"[{schema.get(low, '')} .. {schema.get(high, '')}]")
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    return " ".join(parts)


def _body_schema(body):
    for media in (body or {}).get("content", {}).values():
        return media.get("schema")
    return None


def render_html(spec, lang, summaries_ru=None):
    t = _TEXT[lang]
    summaries_ru = SUMMARIES_RU if summaries_ru is None else summaries_ru
    info = spec["info"]
    out = [
        f'<!DOCTYPE html><html lang="{t["lang"]}"><head><meta charset="utf-8">',
        f"<title>{escape(t['title'])} {escape(info['version'])}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style>",
        f"</head><body><h1>{escape(t['title'])} {escape(info['version'])}</h1>",
        f"<h2>{escape(t['operations'])}</h2>",
    ]
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method == "parameters":
                continue
            op_id = op.get("operationId", "")
            summary = summaries_ru.get(op_id, "") if lang == "ru" else op.get("summary", "")
            out.append(f'<h3 id="{escape(op_id)}">{escape(method.upper())} {escape(path)}</h3>')
            out.append(f"<p><code>{escape(op_id)}</code>: {escape(summary)}</p>")
            if lang == "en" and op.get("description"):
                out.append(f"<p>{escape(op['description'])}</p>")
            if op.get("security"):
                out.append(f"<p><em>{escape(t['auth'])}</em></p>")
            params = op.get("parameters", []) + methods.get("parameters", [])
            if params:
                out.append(
                    f"<h4>{escape(t['parameters'])}</h4><table><tr><th>{escape(t['name'])}</th>"
                    f"<th>{escape(t['in'])}</th><th>{escape(t['type'])}</th><th>{escape(t['required'])}</th></tr>"
                )
                for param in params:
                    required = t["yes"] if param.get("required") else t["no"]
                    out.append(
                        f"<tr><td>{escape(param.get('name', ''))}</td><td>{escape(param.get('in', ''))}</td>"
                        f"<td>{escape(_type(param.get('schema')))}</td><td>{escape(required)}</td></tr>"
                    )
                out.append("</table>")
            body = _body_schema(op.get("requestBody"))
            if body:
                out.append(f"<h4>{escape(t['body'])}</h4><p>{escape(_type(body))}</p>")
            out.append(f"<h4>{escape(t['responses'])}</h4><ul>")
            for status, response in op.get("responses", {}).items():
                schema = _body_schema(response) if isinstance(response, dict) else None
                label = _type(schema) if schema else ""
                if isinstance(response, str):
                    label = response
                out.append(f"<li>{escape(status)} {escape(label)}</li>")
            out.append("</ul>")
    out.append(f"<h2>{escape(t['schemas'])}</h2>")
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        out.append(
            f'<h3 id="schema-{escape(name)}">{escape(name)}</h3><table><tr><th>{escape(t["field"])}</th>'
            f"<th>{escape(t['type'])}</th><th>{escape(t['required'])}</th></tr>"
        )
        required = set(schema.get("required", []))
        for field, prop in schema.get("properties", {}).items():
            flag = t["yes"] if field in required else t["no"]
            out.append(f"<tr><td>{escape(field)}</td><td>{escape(_type(prop))}</td><td>{escape(flag)}</td></tr>")
        out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


@lru_cache(maxsize=16)
def _rendered(app_id, filename, spec_api):
    spec = spec_api.spec.to_dict()
    if filename == "openapi.json":
        return json.dumps(spec, ensure_ascii=False, indent=2), "application/json"
    lang = {"file_en.html": "en", "file_ru.html": "ru"}[filename]
    return render_html(spec, lang, getattr(spec_api, "SUMMARIES_RU", None)), "text/html"


FILES = ("file_en.html", "file_ru.html", "openapi.json")


def render(filename, spec_api=None):
    """(content, mimetype) of a documentation file, or None for any other name. spec_api is
    the Api whose document is rendered: the 7.9 one unless told (the 6.20 one for /v6)."""
    if filename not in FILES:
        return None
    return _rendered(id(current_app._get_current_object()), filename, spec_api or api)
