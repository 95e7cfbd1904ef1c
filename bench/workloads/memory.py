"""Memory workload: the workers' RSS growth over many mixed requests on a fresh server."""

import json

from bench import dataset
from bench.servers import status_kb


def mixed_rss(bench):
    """50,000 mixed requests on a fresh server; worker RSS after the first 1,000 and at the end."""
    light = [dataset.light_name(n) for n in range(1, min(11, bench.s.scale.users))]
    requests = []
    for username in light:
        user = bench.users[username]
        headers = bench.auth(username)
        first, last = bench.local_days(user, 31)
        requests += [
            ("GET", "/account/info", headers, None),
            (
                "POST",
                "/account/token/validation",
                {"Content-Type": "application/json"},
                json.dumps(bench.token(username)).encode(),
            ),
            ("GET", f"/account/statistics?from={first}&to={last}", headers, None),
            ("GET", "/account/audit?from=2000-01-01T00:00:00Z&limit=20&sort_direction=DESC", headers, None),
            ("GET", "/account/system/check", {}, None),
        ]
    bench.restart_service()
    warm = bench.driver.run(bench.service.port, requests, limit=bench.s.mixed_warm)
    after_warm = {pid: status_kb(pid, "VmRSS") for pid in bench.service.workers()}
    rest = bench.driver.run(bench.service.port, requests, limit=bench.s.mixed_total - bench.s.mixed_warm)
    after_all = {pid: status_kb(pid, "VmRSS") for pid in bench.service.workers()}
    growth = max(after_all[pid] / after_warm[pid] - 1 for pid in after_warm if pid in after_all)
    bench.results["mixed_rss"] = {
        "unit": "fraction",
        "service": [growth],
        "absolute": True,
        "rss_kb_after_warm": list(after_warm.values()),
        "rss_kb_after_all": list(after_all.values()),
        "requests": warm["requests"] + rest["requests"],
        "rps": rest["rps"],
    }
    bench.log(f"  mixed: RSS kB {after_warm} -> {after_all}, {warm['requests'] + rest['requests']} requests")
