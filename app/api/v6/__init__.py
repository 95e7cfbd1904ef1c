"""The legacy API 6.20 dialect, served under /v6 beside 7.9, over the same database.

Its own Api (OpenAPI document version 6.20 at /v6/account/openapi), error bodies
(app.api.v6.errors) and blueprints with the 6.20 schemas, served by app.api.v6.registry:
the core knows nothing of /v6, the dialect registers itself. Behind them the same query
services (app/services), authentication and tokens as 7.9: a 6.20 view parses its own
schema, calls the same service as the 7.9 view and shapes the answer (app.api.v6.mapping),
so the two cannot drift. Nothing here imports a 7.9 view.
"""

import functools

from app.api import operation as _operation
from app.docs import DESCRIPTIONS_RU, SUMMARIES_RU
from app.extensions import Api
from schemas.v6 import ERRORS_BY_STATUS, General400

# Every path under DIALECT_PREFIX is the dialect's, unknown ones too: their errors carry
# the 6.20 bodies.
DIALECT_PREFIX = "/v6"
PREFIX = f"{DIALECT_PREFIX}/account"


class ApiV6(Api):
    ERROR_SCHEMA = General400
    # Read by app.docs for file_ru.html.
    SUMMARIES_RU = {
        **SUMMARIES_RU,
        "read_data": "Получение входных или выходных данных по tracecode.",
        "read_report": "Создание отчета со статистикой по использованию.",
        "write_processes": "Запись процессов расчётными сервисами, с названиями 6.20 (расширение API).",
    }
    DESCRIPTIONS_RU = {
        **DESCRIPTIONS_RU,
        "run_token_generation": (
            "Неверное имя пользователя и неверный пароль дают один и тот же ответ 401; неудачные попытки "
            "ограничиваются так же, как в 7.9."
        ),
        "change_password": (
            "Новый пароль должен также укладываться в границы 7.9 (от 10 до 256 символов), чтобы с ним можно "
            "было войти через оба диалекта."
        ),
        "update_info": (
            "Отсутствующие name, email или phone очищаются, отсутствующий timezone равен 0 (документированные "
            "значения по умолчанию). username и company_key должны быть собственными: изменить их нельзя (403)."
        ),
        "generate_statistics": (
            "Без периода: текущий месяц по вчерашний день. `to` входит в период. Значения больше 10^7 "
            "(граница 6.20) выводятся как 10^7."
        ),
        "read_audit": (
            "Без периода: сегодня с 00:00 (в часовом поясе пользователя) до текущего момента. `sort_field` — "
            "одно из: time, code, service_name, method_group, username, company_key. tracedata действия — "
            "tracedata его первого запроса; duration — сумма его длительностей расчёта."
        ),
        "read_data": (
            "Процесс другого пользователя, неизвестный код, отсутствующий файл и стадия, отличная от 0, дают "
            "один и тот же General404."
        ),
        "read_quota": "Пользователь без единой квоты получает General404 (resource_id `quota`).",
        "write_processes": (
            "Только для токенов BOT и ADMIN. Те же правила, что у POST /account/processes: идемпотентно, "
            "всё или ничего."
        ),
    }


api = ApiV6(config_prefix="V6")


# Document a 6.20 view: operationId = the view's name (the 6.20 client's operation), error
# responses with the 6.20 bodies.
operation = functools.partial(_operation, errors=ERRORS_BY_STATUS)
