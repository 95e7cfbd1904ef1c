"""The benchmark suite (`make bench`, `python -m bench.run`; the README's Performance).

- run.py: the command line and one run, start to end.
- harness.py: the settings, the private database and the Bench (data set, servers, tokens,
  the measurement steps workloads share); dataset.py: the data set.
- servers.py: the service and the bare baseline endpoint (bare.py), launched by
  launcher.Gunicorn as the tests launch them, and the workers' memory; the reservations
  line's ceiling, the service without its quota decision (ceiling.py).
- load.py: single requests, and load from wrk or Python threads.
- workloads/: one module per family (tokens, usage, audit, ingestion, memory, retention),
  and in order in workloads.WORKLOADS with audit_whole.py and reservations.py.
- baseline.py: the hand-written SQL the answers are timed and checked against.
- results.py: the targets, the summary, the table, RESULTS.md and results.json;
  profile.py: py-spy profiles of a workload.
"""
