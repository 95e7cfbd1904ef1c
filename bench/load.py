"""HTTP load and single requests against a server on 127.0.0.1: wrk when it is installed
(the bench's normal driver), else closed-loop Python threads.
bench/reservations.py is handed this module (as `run_module`) and drives its own wrk
script with its request, _parse_wrk and _python_load."""

import http.client
import math
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path


def request(port, method, path, headers=None, body=None):
    """(status, body bytes) of one request on a fresh connection (sync gunicorn workers
    close the connection after every response anyway)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def timed(port, method, path, headers=None, body=None, expect=200):
    started = time.perf_counter()
    status, payload = request(port, method, path, headers, body)
    elapsed = time.perf_counter() - started
    if status != expect:
        raise RuntimeError(f"{method} {path}: {status} {payload[:300]!r}")
    return elapsed, payload


def _lua_string(text):
    return "[==[" + text + "]==]"


def _wrk_script(requests, limit=None):
    """A wrk script cycling through (method, path, headers, body) requests; with limit,
    the thread stops after that many responses."""
    lines = [
        "local reqs = {}",
        "local i = 0",
        "local done = 0",
        "local shown = false",
        f"local limit = {limit or 0}",
        "init = function(args)",
    ]
    for method, path, headers, body in requests:
        header_table = "{" + ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()) + "}"
        body_text = _lua_string(body.decode() if body else "") if body else "nil"
        lines.append(
            f"  reqs[#reqs + 1] = wrk.format({_lua_string(method)}, {_lua_string(path)}, {header_table}, {body_text})"
        )
    lines += [
        "end",
        "request = function() i = i % #reqs + 1; return reqs[i] end",
        "response = function(status, headers, body)",
        "  done = done + 1",
        "  if status >= 400 and not shown then shown = true; io.write('FAILED ', status, ' ', body, '\\n') end",
        "  if limit > 0 and done >= limit then wrk.thread:stop() end",
        "end",
    ]
    return "\n".join(lines) + "\n"


def _parse_wrk(output):
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if not rps or not total:
        raise RuntimeError("unexpected wrk output:\n" + output)
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def _python_load(port, requests, duration=None, limit=None, connections=2):
    """The fallback driver when wrk is missing: closed-loop threads, one request at a time each."""
    lock = threading.Lock()
    state = {"done": 0, "bad": 0, "next": 0}
    deadline = time.perf_counter() + (duration or 1e9)

    def work():
        while time.perf_counter() < deadline:
            with lock:
                if limit and state["next"] >= limit:
                    return
                index = state["next"]
                state["next"] += 1
            method, path, headers, body = requests[index % len(requests)]
            status, _ = request(port, method, path, headers, body)
            with lock:
                state["done"] += 1
                state["bad"] += status >= 400

    started = time.perf_counter()
    threads = [threading.Thread(target=work) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"rps": state["done"] / elapsed, "requests": state["done"], "non_2xx": state["bad"], "socket_errors": 0}


class Driver:
    """HTTP load: wrk when it is installed (the bench's normal driver), else Python threads."""

    def __init__(self, workdir, connections, use_wrk=True):
        self.workdir = Path(workdir)
        self.connections = connections
        self.wrk = shutil.which("wrk") if use_wrk else None
        self.name = "wrk" if self.wrk else "python-threads"

    def run(self, port, requests, duration=None, limit=None):
        """Throughput for a duration, or (limit) about that many requests."""
        if not self.wrk:
            return _python_load(port, requests, duration, limit, self.connections)
        if not limit:
            return self._wrk(port, requests, max(1, round(duration)))
        # wrk stops sending at the script's limit but runs out its duration: chunks sized
        # on the rate seen so far keep the idle tail short.
        done, rate, started = 0, None, time.perf_counter()
        while done < limit:
            remaining = limit - done
            seconds = 3 if rate is None else min(30, max(1, math.ceil(remaining / rate * 1.05)))
            result = self._wrk(port, requests, seconds, remaining)
            done += result["requests"]
            rate = max(result["requests"] / seconds, 1.0)
        return {"rps": done / (time.perf_counter() - started), "requests": done, "non_2xx": 0, "socket_errors": 0}

    def _wrk(self, port, requests, seconds, limit=None):
        script = self.workdir / f"load_{uuid.uuid4().hex[:8]}.lua"
        script.write_text(_wrk_script(requests, limit))
        command = [self.wrk, "-t1", f"-c{self.connections}", f"-d{seconds}s", "-s", str(script)]
        command.append(f"http://127.0.0.1:{port}/")
        finished = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 600)
        if finished.returncode or finished.stderr.strip():
            raise RuntimeError(f"wrk failed: {finished.stderr.strip()[:500]}")
        output = finished.stdout
        result = _parse_wrk(output)
        if result["non_2xx"]:
            failed = re.search(r"^FAILED .*$", output, re.M)
            raise RuntimeError(f"{result['non_2xx']} failed responses under load: {failed and failed.group(0)}")
        return result
