"""The documentation files served by GET /account/file/{filename}.

Each page is rendered from the service's own OpenAPI document (through the Jinja2 template
app/templates/docs.html, autoescaped), so the pages cannot drift from the API. Files are
looked up by name in a fixed table: no name can reach the file system, so no path can
leave the documentation folder.
"""

import json
import re
from functools import lru_cache

from apispec import BasePlugin
from flask import current_app, render_template
from markupsafe import Markup, escape

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

# The behaviour notes of the operations (their English description) in Russian, keyed by
# operationId; a test fails if one with a description is missing. `x` renders as code.
DESCRIPTIONS_RU = {
    "run_token_generation": (
        "Неверное имя пользователя и неверный пароль дают один и тот же ответ 401; отключённый "
        "пользователь токен не получает. После заданного числа неудачных попыток имя пользователя "
        "(и адрес клиента) получает отказ 429 с заголовком Retry-After, даже с верным паролем."
    ),
    "run_token_validation": (
        "Просроченный, поддельный, отозванный или испорченный токен — не ошибка: ответ `valid: false`."
    ),
    "change_password": "Все токены, выданные до смены пароля, сразу перестают действовать.",
    "update_info": "Отсутствующее поле не меняется; поле со значением null очищается.",
    "generate_statistics": (
        "Без периода: текущий месяц по вчерашний день. `to` входит в период. Дни без использования не выводятся."
    ),
    "read_audit": (
        "Без периода: сегодня с 00:00 (в часовом поясе пользователя) до текущего момента. "
        "`sort_field` — одно из: time, process_code, process_type, service, username, company, status."
    ),
    "read_data": (
        "Процесс другого пользователя, неизвестный код процесса и отсутствующий файл дают один и тот же General404."
    ),
    "write_data": (
        "Только для токенов BOT и ADMIN. Файл записывается в базу данных потоком, частями; предельный размер — "
        "`DATA_MAX_CONTENT_LENGTH`, сверх него ответ 413."
    ),
    "read_quota": (
        "Пользователь без единой квоты получает General404 (resource_key `quota`): в документированном "
        "ответе должен быть хотя бы один сервис."
    ),
    "write_processes": (
        "Идемпотентно: известный process_code обновляется, запросы объединяются по request_code, и повторная "
        "отправка того же пакета ничего не меняет. Всё или ничего: одна неверная запись отклоняет весь пакет "
        "с General400, где названы индекс записи и поле."
    ),
    "create_quota_reservation": (
        "Выдаётся, когда баллы не больше points_per_request, баллы местных суток пользователя плюс баллы его "
        "активных резервов плюс эти не больше points_per_day, и активных резервов меньше "
        "max_concurrent_execution. Иначе General402 с названием нарушенного лимита или General429 с заголовком "
        "Retry-After для лимита одновременных расчётов; каждый отказ записывается процессом пользователя со "
        "статусом CANCELED_BY_QUOTA. Повтор с тем же process_code — тот же резерв с продлённым сроком. BOT "
        "резервирует только для пользователей своей компании."
    ),
    "delete_quota_reservation": (
        "Запись процесса с финальным статусом, отправленная в POST /account/processes, тоже освобождает его резерв."
    ),
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


_CODE = re.compile(r"`([^`]+)`")


def _inline(text):
    """Escaped text, its `backticked` spans as code, its line breaks as spaces: markup the
    template writes as it is."""
    return Markup(_CODE.sub(r"<code>\1</code>", str(escape(" ".join(str(text).split())))))


def _prose(text):
    """_inline text as paragraphs, split on blank lines."""
    return Markup("").join(Markup("<p>%s</p>") % _inline(part) for part in str(text).split("\n\n") if part.strip())


def _status_order(status):
    """Responses by status code, "default" last."""
    return (0, int(status)) if str(status).isdigit() else (1, 0)


class StatusOrder(BasePlugin):
    """An apispec plugin: every operation's responses in status order, in the OpenAPI
    document too (Swagger UI and ReDoc list them as the document does)."""

    def operation_helper(self, path=None, operations=None, **kwargs):
        for operation in (operations or {}).values():
            if isinstance(operation, dict) and isinstance(operation.get("responses"), dict):
                responses = operation["responses"]
                operation["responses"] = {code: responses[code] for code in sorted(responses, key=_status_order)}


def _parameters(op, path_item):
    """The operation's parameters and the path's, each (name, in) once: the operation's
    own declaration wins, as in OpenAPI."""
    merged = {}
    for param in path_item.get("parameters", []) + op.get("parameters", []):
        merged[(param.get("name"), param.get("in"))] = param
    return list(merged.values())


def render_html(spec, lang, summaries_ru=None, descriptions_ru=None):
    """A page of the document spec in lang, from the template app/templates/docs.html
    (Jinja2, autoescaped: only _inline's and _prose's markup is not escaped)."""
    summaries_ru = SUMMARIES_RU if summaries_ru is None else summaries_ru
    descriptions_ru = DESCRIPTIONS_RU if descriptions_ru is None else descriptions_ru
    operations = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            if method == "parameters":
                continue
            op_id = op.get("operationId", "")
            summary = summaries_ru.get(op_id, "") if lang == "ru" else op.get("summary", "")
            description = descriptions_ru.get(op_id) if lang == "ru" else op.get("description")
            body = _body_schema(op.get("requestBody"))
            operations.append(
                {
                    "id": op_id,
                    "method": method.upper(),
                    "path": path,
                    "summary": _inline(summary),
                    "description": _prose(description) if description else "",
                    "secured": bool(op.get("security")),
                    "parameters": [
                        {
                            "name": param.get("name", ""),
                            "where": param.get("in", ""),
                            "type": _type(param.get("schema")),
                            "required": bool(param.get("required")),
                        }
                        for param in _parameters(op, methods)
                    ],
                    "body": _type(body) if body else "",
                    "responses": [
                        (status, _response_label(response))
                        for status, response in sorted(
                            op.get("responses", {}).items(), key=lambda item: _status_order(item[0])
                        )
                    ],
                }
            )
    schemas = [
        {
            "name": name,
            "fields": [
                {"name": field, "type": _type(prop), "required": field in set(schema.get("required", []))}
                for field, prop in schema.get("properties", {}).items()
            ],
        }
        for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items())
    ]
    return render_template(
        "docs.html", t=_TEXT[lang], version=spec["info"]["version"], operations=operations, schemas=schemas
    )


def _response_label(response):
    """A response's schema type, or the text of a response given as a string."""
    if isinstance(response, str):
        return response
    schema = _body_schema(response) if isinstance(response, dict) else None
    return _type(schema) if schema else ""


@lru_cache(maxsize=16)
def _rendered(app_id, filename, spec_api):
    spec = spec_api.spec.to_dict()
    if filename == "openapi.json":
        return json.dumps(spec, ensure_ascii=False, indent=2), "application/json"
    lang = {"file_en.html": "en", "file_ru.html": "ru"}[filename]
    summaries, descriptions = (getattr(spec_api, name, None) for name in ("SUMMARIES_RU", "DESCRIPTIONS_RU"))
    return render_html(spec, lang, summaries, descriptions), "text/html"


FILES = ("file_en.html", "file_ru.html", "openapi.json")


def render(filename, spec_api=None):
    """(content, mimetype) of a documentation file, or None for any other name. spec_api is
    the Api whose document is rendered: the 7.9 one unless told (the 6.20 one for /v6)."""
    if filename not in FILES:
        return None
    return _rendered(id(current_app._get_current_object()), filename, spec_api or api)
