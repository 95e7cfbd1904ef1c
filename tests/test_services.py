"""The pieces the two dialects now share, tested without a database: the Scope of names an
answer shows, the one IN-chunk loop and the day/service nesting both UserStatistics use."""

from datetime import date

import pytest

from app.db import chunked, scope
from app.db.usage import StatisticsRow
from app.services.usage import by_day_and_service


@pytest.mark.parametrize(
    "service, process_type, request_services, v79",
    [
        ("ROUTING", "PLAN", ["ROUTING", "ACCOUNT"], True),
        ("STOCK", "PLAN", [], False),  # a service only 6.20 names
        ("ROUTING", "PACK", [], False),  # a process type only 6.20 names
        ("ROUTING", "PLAN", ["STOCK"], False),  # a request naming one is enough
    ],
)
def test_scope_admits_what_the_dialect_can_name(service, process_type, request_services, v79):
    assert scope.V79.admits(service, process_type, request_services) is v79
    assert scope.EVERY.admits(service, process_type, request_services) is True
    assert scope.V79.restricted and not scope.EVERY.restricted
    assert scope.clauses(scope.EVERY) == []
    assert len(scope.clauses(scope.V79)) == 2 and len(scope.clauses(scope.V79, requests_too=True)) == 3


@pytest.mark.parametrize("count, sizes", [(0, []), (1, [1]), (500, [500]), (1001, [500, 500, 1])])
def test_chunked_slices_in_order(count, sizes):
    items = list(range(count))
    chunks = list(chunked(items))
    assert [len(chunk) for chunk in chunks] == sizes
    assert [item for chunk in chunks for item in chunk] == items


def test_rows_nest_by_day_then_service_in_their_order():
    day1, day2 = date(2026, 11, 10), date(2026, 11, 11)
    rows = [
        StatisticsRow(day1, "ROUTING", "PLAN", 1, 2, 3, 4),
        StatisticsRow(day1, "ROUTING", "TRACE", 5, 6, 7, 8),
        StatisticsRow(day1, "STOCK", "PACK", 9, 10, 11, 12),
        StatisticsRow(day2, "ROUTING", "PLAN", 13, 14, 15, 16),
    ]
    assert by_day_and_service(rows) == [
        (day1, [("ROUTING", rows[0:2]), ("STOCK", rows[2:3])]),
        (day2, [("ROUTING", rows[3:4])]),
    ]
    assert by_day_and_service([]) == []
