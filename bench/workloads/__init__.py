"""The workloads of a run, in the order they run, each a function of the Bench
(bench/harness.py) that records its results and checks on it."""

from bench import audit_whole, load
from bench import reservations as reservation_bench
from bench.workloads import audit, ingestion, memory, retention, tokens, usage


def _audit_deep(bench):
    audit.audit(bench, min(bench.s.audit_deep_offset, bench.s.scale.heavy_processes - 100), "audit_offset_deep")


def _reservations(workload):
    """bench/reservations.py's workloads take the load module beside the Bench."""
    return lambda bench: workload(bench, load)


WORKLOADS = {
    "token_validation": tokens.token_validation,
    "info": tokens.info,
    "token_generation": tokens.token_generation,
    "statistics_31d": lambda bench: usage.statistics(bench, 31, "statistics_31d"),
    "statistics_365d": lambda bench: usage.statistics(bench, 365, "statistics_365d"),
    "audit_offset_0": lambda bench: audit.audit(bench, 0, "audit_offset_0"),
    "audit_offset_deep": _audit_deep,
    "processes_batch": ingestion.processes_batch,
    "report": usage.report,
    "mixed_rss": memory.mixed_rss,
    "audit_whole": audit_whole.run,
    **{name: _reservations(workload) for name, workload in reservation_bench.WORKLOADS.items()},
    "timezone_change": retention.timezone_change,
    "purge": retention.purge,  # last: it deletes half the heavy user's rows
}
NAMES = tuple(WORKLOADS)


def run(bench, name):
    bench.log(f"{name} ...")
    WORKLOADS[name](bench)
