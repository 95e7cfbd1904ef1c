"""Property-based fuzzing of every operation of the service's own OpenAPI document with
schemathesis: valid and invalid inputs, with a valid token, must never give a 500 nor a
response that breaks the documented schema. Bounded examples, so it fits in CI; once per
dialect, on one database (the one_backend marker, tests/conftest.py)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.conftest import process_record


@pytest.fixture
def fuzz_headers(app, make_user, login, ingest, runner):
    make_user(username="fuzzer", roles=("USER", "ADMIN"))
    runner.invoke(
        args=[
            "account",
            "set-quota",
            "fuzzer",
            "UNIVERSAL",
            "PLAN",
            "--points-per-request",
            "10",
            "--points-per-day",
            "100",
            "--max-concurrent",
            "1",
        ]
    )
    headers = {"Authorization": f"Bearer {login('fuzzer')}"}
    ingest(process_record(username="fuzzer", point_keys=["a", "b"]), headers=headers)
    return headers


def _operations(app, document):
    schema = schemathesis.openapi.from_wsgi(document, app)
    return [result.ok() for result in schema.get_all_operations()]


# The 7.9 document, and the legacy 6.20 one served under /v6.
DOCUMENTS = {"7.9": "/account/openapi/openapi.json", "6.20": "/v6/account/openapi/openapi.json"}
# Their operations: the documented ones, the producer extensions and (7.9) the quota
# reservation extensions.
OPERATIONS = {"7.9": 18, "6.20": 14}


# The slowest test of the suite runs once per dialect: on PostgreSQL when the run has it,
# the stricter database (it refuses text SQLite stores, such as U+0000), where a missed
# check shows as a 500.
@pytest.mark.one_backend
@pytest.mark.parametrize("dialect", DOCUMENTS)
def test_every_operation_against_its_documented_schema(app, fuzz_headers, dialect):
    failures = {}
    operations = _operations(app, DOCUMENTS[dialect])
    assert len(operations) == OPERATIONS[dialect]
    for operation in operations:
        # A producer batch nests records whose durations follow a pattern with lookarounds,
        # which hypothesis generates slowly (seconds an example): that operation gets fewer.
        examples = 5 if operation.path.endswith("/account/processes") else 30

        @given(case=operation.as_strategy())
        @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def run(case):
            # Schema-valid input may still break a rule the schema cannot state (from after
            # to, a period over 3,653 days): positive_data_acceptance is left out for that.
            case.call_and_validate(headers=fuzz_headers, excluded_checks=[checks.positive_data_acceptance])

        try:
            run()
        except (BaseExceptionGroup, Exception) as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = f"{type(exc).__name__}: {exc}"[:3000]
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())
