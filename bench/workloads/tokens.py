"""Token workloads: validation and GET /account/info throughput against the bare endpoint,
and the login's latency against bcrypt.checkpw alone."""

import json
import time
from statistics import median

import bcrypt

from app.security import _prehash
from bench import dataset
from bench.harness import BCRYPT_ROUNDS
from bench.load import request, timed


def token_validation(bench):
    headers = {"Content-Type": "application/json"}
    status, payload = request(
        bench.service.port, "POST", "/account/token/validation", headers, json.dumps(bench.token(dataset.LOGIN))
    )
    bench.checks["token_validation"] = status == 200 and json.loads(payload)["valid"] is True
    bench.throughput("token_validation", "POST", "/account/token/validation", headers, bench.token(dataset.LOGIN))


def info(bench):
    bench.throughput("info", "GET", "/account/info", bench.auth(dataset.LOGIN), None)


def token_generation(bench):
    body = json.dumps({"username": dataset.LOGIN, "password": dataset.PASSWORD}).encode()
    headers = {"Content-Type": "application/json"}
    password_hash = bench.users[dataset.LOGIN]["password_hash"].encode()
    prehashed = _prehash(dataset.PASSWORD)
    timed(bench.service.port, "POST", "/account/token/generation", headers, body)
    service, baseline = [], []
    for _ in range(bench.s.rounds):
        runs = [timed(bench.service.port, "POST", "/account/token/generation", headers, body)[0]]
        runs += [timed(bench.service.port, "POST", "/account/token/generation", headers, body)[0]]
        runs += [
            timed(bench.service.port, "POST", "/account/token/generation", headers, body)[0]
            for _ in range(bench.s.login_samples - 2)
        ]
        service.append(median(runs))
        checks = []
        for _ in range(bench.s.login_samples):
            started = time.perf_counter()
            assert bcrypt.checkpw(prehashed, password_hash)
            checks.append(time.perf_counter() - started)
        baseline.append(median(checks))
    bench.record("token_generation", service, baseline, "s", bcrypt_rounds=BCRYPT_ROUNDS)
