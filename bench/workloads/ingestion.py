"""Ingestion workload: POST /account/processes, batches of records of a light user,
against the same rows inserted by psycopg2's execute_values in one transaction."""

import json
import time
import uuid
from datetime import UTC, datetime

import psycopg2
import psycopg2.extras

from bench import dataset
from bench.load import timed


def batch_records(bench):
    user = bench.users[dataset.light_name(1)]
    start_us, end_us = dataset.window(bench.s.scale)
    records = []
    for number in range(bench.s.batch):
        code = str(uuid.uuid4())
        moment = datetime.fromtimestamp((start_us + (number * 7_777_777_777) % (end_us - start_us)) / 1e6, UTC)
        stamp = moment.isoformat()
        records.append(
            {
                "process_code": code,
                "process_type": "PLAN",
                "username": user["username"],
                "company": user["company_key"],
                "service": "ROUTING",
                "time": stamp,
                "requests": [
                    {
                        "process_code": code,
                        "request_code": str(uuid.uuid4()),
                        "username": user["username"],
                        "company": user["company_key"],
                        "service": "ROUTING",
                        "operation": dataset.OPERATIONS[k],
                        "env": "bench",
                        "pod": f"pod-{k}",
                        "time": stamp,
                    }
                    for k in range(bench.s.scale.requests)
                ],
                "statistics": {
                    "request_points_count": 100 + number,
                    "result_elements_count": 50,
                    "calculation_info": {
                        "status": "FINISHED_IN_TIME",
                        "result_version": 1,
                        "preparing_time": "PT1S",
                        "business_validation_time": "PT2S",
                        "math_validation_time": "PT3S",
                        "waiting_time": "PT4S",
                        "calculation_time": "PT1M30S",
                    },
                },
                "point_keys": [f"pt-{(number * 13 + k * 7919) % 20000}" for k in range(bench.s.scale.points)],
            }
        )
    return user, records


def execute_values(bench, user, records):
    """The baseline: the same rows inserted by psycopg2 execute_values, one transaction."""
    conn = psycopg2.connect(bench.url)
    try:
        with conn, conn.cursor() as cursor:
            process_rows, request_rows, point_rows = [], [], []
            for record in records:
                us = int(datetime.fromisoformat(record["time"]).timestamp() * 1_000_000)
                info = record["statistics"]["calculation_info"]
                process_rows.append(
                    (
                        record["process_code"],
                        user["id"],
                        record["username"],
                        record["company"],
                        record["service"],
                        record["process_type"],
                        us,
                        info["status"],
                        info["result_version"],
                        info["preparing_time"],
                        info["business_validation_time"],
                        info["math_validation_time"],
                        info["waiting_time"],
                        info["calculation_time"],
                        record["statistics"]["request_points_count"],
                        record["statistics"]["result_elements_count"],
                        False,
                        False,
                    )
                )
                request_rows += [
                    (
                        r["process_code"],
                        r["request_code"],
                        r["username"],
                        r["company"],
                        r["service"],
                        r["operation"],
                        r["env"],
                        r["pod"],
                        us,
                    )
                    for r in record["requests"]
                ]
                point_rows += [(record["process_code"], key) for key in record["point_keys"]]
            psycopg2.extras.execute_values(
                cursor, "INSERT INTO processes VALUES %s", process_rows, page_size=len(process_rows)
            )
            psycopg2.extras.execute_values(
                cursor, "INSERT INTO process_requests VALUES %s", request_rows, page_size=1000
            )
            psycopg2.extras.execute_values(cursor, "INSERT INTO process_points VALUES %s", point_rows, page_size=1000)
    finally:
        conn.close()


def processes_batch(bench):
    headers = {**bench.auth(dataset.ADMIN), "Content-Type": "application/json"}

    def service_once():
        _, records = batch_records(bench)
        body = json.dumps({"processes": records}).encode()
        return timed(bench.service.port, "POST", "/account/processes", headers, body)[0]

    def baseline_once():
        user, records = batch_records(bench)
        started = time.perf_counter()
        execute_values(bench, user, records)
        return time.perf_counter() - started

    service_once()
    baseline_once()
    service, baseline = [], []
    n = bench.s.batch * bench.s.batches
    for _ in range(bench.s.rounds):
        service.append(n / sum(service_once() for _ in range(bench.s.batches)))
        baseline.append(n / sum(baseline_once() for _ in range(bench.s.batches)))
    bench.record("processes_batch", service, baseline, "records/s", higher_is_better=True, batch=bench.s.batch)
