"""What a run reports: the targets, the machine, the summary table, RESULTS.md and
results.json."""

import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from statistics import median

import psycopg2

from bench import reservations as reservation_bench

# name: (what, measured against, direction, target)
TARGETS = {
    "token_validation": ("POST /account/token/validation throughput", "bare endpoint", ">=", 0.60),
    "info": ("GET /account/info throughput", "bare endpoint", ">=", 0.45),
    "token_generation": ("POST /account/token/generation latency", "bcrypt.checkpw alone", "<=", 1.15),
    # Issue 12: the statistics and report read the daily roll-ups; the baseline is the raw
    # aggregate (the hand-written SQL of bench/baseline.py) plus a bare request.
    "statistics_31d": ("GET /account/statistics heavy user, 31 days", "raw-aggregate SQL + bare request", "<=", 0.2),
    "statistics_365d": ("GET /account/statistics heavy user, 365 days", "raw-aggregate SQL + bare request", "<=", 0.05),
    "audit_offset_0": ("GET /account/audit heavy user, offset 0", "SQL + bare request", "<=", 1.5),
    "audit_offset_deep": ("GET /account/audit heavy user, offset 150,000", "SQL + bare request", "<=", 1.5),
    "processes_batch": ("POST /account/processes, 1,000 records a batch (roll-ups kept)", "execute_values", ">=", 0.25),
    "report_wall": ("GET /account/report 3,653 days, wall time", "raw-aggregate SQL + bare request", "<=", 0.10),
    "report_rss": ("GET /account/report 3,653 days, worker peak RSS growth (MB)", "absolute", "<=", 60.0),
    "mixed_rss": ("worker RSS growth after 50,000 mixed requests", "RSS after the first 1,000", "<=", 0.10),
    # bench/audit_whole.py (issue 16): the heavy user's whole history in one page.
    "audit_whole_rss": ("GET /account/audit heavy user, whole history: worker RSS growth (MB)", "absolute", "<=", 64.0),
    "audit_whole_x4_rss": ("the same, 4 at once: workers' total peak RSS growth (MB)", "absolute", "<=", 256.0),
    **reservation_bench.TARGETS,
    "timezone_change": ("account set-timezone, heavy user, +1 hour (s)", "absolute", None, None),
    "purge_rate": ("purge of the heavy user's oldest 6 months (records/s)", "absolute", None, None),
    "purge_token_validation": (
        "token validation throughput during that purge",
        "the same without the purge",
        ">=",
        0.5,
    ),
}


def machine():
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in ("Flask", "gunicorn", "SQLAlchemy", "psycopg2-binary", "bcrypt", "flask-smorest", "marshmallow"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True).stdout + ""
        versions["wrk"] = (out.split() + ["?", "?"])[1]
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
    }


def summarize(results):
    """One row per target: median and min-max of the per-round ratio (or of the absolute
    value), the target, met or missed, and the gap."""
    rows = []
    for name, (what, against, direction, target) in TARGETS.items():
        result = results.get(name)
        if result is None:
            continue
        if result.get("absolute"):
            values = result["service"]
            value = max(values) if name.endswith("_rss") else median(values)
        else:
            values = [a / b for a, b in zip(result["service"], result["baseline"], strict=True)]
            value = median(values)
        if target is None:  # reported only
            met, gap = None, 0.0
        else:
            met = value >= target if direction == ">=" else value <= target
            gap = 0.0 if met else (target - value if direction == ">=" else value - target)
        rows.append(
            {
                "name": name,
                "what": what + (f" ({result['note']})" if result.get("note") else ""),
                "against": against,
                "service_median": median(result["service"]),
                "baseline_median": median(result["baseline"]) if "baseline" in result else None,
                "unit": result["unit"],
                "value": value,
                "min": min(values),
                "max": max(values),
                "direction": direction,
                "target": target,
                "met": met,
                "gap": gap,
            }
        )
    return rows


def _number(value, unit=""):
    if value is None:
        return "-"
    if unit == "s":
        return f"{value * 1000:.1f} ms"
    if unit == "fraction":
        return f"{value * 100:.1f}%"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def table(rows):
    lines = [
        "| what | vs | service (median) | baseline (median) | ratio or value | min-max | target | result |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        shown = {
            "report_rss": lambda v: f"{v:.1f} MB",
            "audit_whole_rss": lambda v: f"{v:.1f} MB",
            "audit_whole_x4_rss": lambda v: f"{v:.1f} MB",
            "mixed_rss": lambda v: f"{v * 100:.1f}%",
            "reservations_p99": lambda v: f"{v * 1000:.0f} ms",
            "timezone_change": lambda v: f"{v:.2f} s",
            "purge_rate": lambda v: f"{v:,.0f}",
        }.get(row["name"], lambda v: f"{v:.2f}")
        result = "met" if row["met"] else f"**missed** by {shown(row['gap'])}"
        if row["met"] is None:
            result = "reported"
        target = "-" if row["target"] is None else f"{row['direction']} {shown(row['target'])}"
        unit = row["unit"]
        service = _number(row["service_median"], unit) + ("" if unit in ("s", "fraction") else f" {unit}")
        lines.append(
            f"| {row['what']} | {row['against']} | {service} | {_number(row['baseline_median'], unit)} "
            f"| {shown(row['value'])} | {shown(row['min'])} - {shown(row['max'])} "
            f"| {target} | {result} |"
        )
    return "\n".join(lines)


def write_outputs(out, document):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    m = document["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    d = document["dataset"]
    s = document["settings"]
    profiles = ", ".join(f"[{path}]({path})" for path in document.get("profiles", []))
    profiles = f"\n- py-spy profiles (samples while a worker handled a request): {profiles}." if profiles else ""
    checks = ", ".join(f"{k} {'ok' if v else 'DIFFERENT'}" for k, v in document["checks"].items())
    text = f"""# Benchmark results

Written by `make bench` (`bench/run.py`) on {document["finished"]}; raw figures in
[results.json](results.json). How to run and what each line measures: the README's
"Performance" section.

- Machine: {m["cores"]} cores, {m["cpu_model"]}, Linux {m["kernel"]} (shared and noisy: hence ratios
  against a baseline measured in the same run, rounds interleaved A B A B ...).
- Software: Python {m["python"]}, {document["postgresql"]}; {versions}.
- Server: gunicorn with gunicorn.conf.py, 2 workers, for the service and for the bare
  endpoint alike; load driver: {document["driver"]} ({s["connections"]} connections, {s["duration"]} s a run).
- Data set: {d["users"]} users, {d["processes"]:,} processes ({d["heavy_processes"]:,} of the heavy user),
  {d["requests"]:,} requests, {d["point_keys"]:,} point keys, {d["input_files"]:,} input files; loaded in
  {d["load_seconds"]} s (daily roll-ups built from them in {d.get("rollup_build_seconds", "-")} s).
- Rounds: {s["rounds"]}; ratios are service/baseline per round (throughput: higher is better;
  latency: lower is better), and "ratio or value" is their median. The report and RSS lines
  are absolute: the report's wall time is the median of {s["report_rounds"]} requests, its
  RSS growth the worst of them, and the mixed run is one run of {s["mixed_total"]:,} requests.
- Answers checked against the baseline SQL: {checks}.
- Total run time: {document["seconds"]:.0f} s.{profiles}

{table(document["summary"])}
"""
    (out / "RESULTS.md").write_text(text)
    return text


def postgres_version(url):
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SHOW server_version")
            return "PostgreSQL " + cursor.fetchone()[0].split(" ")[0]
    finally:
        conn.close()
