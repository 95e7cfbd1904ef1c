"""Where a workload's time goes: py-spy samples the gunicorn workers while the workload
runs (`python -m bench.run --only NAME --profile NAME`), and the summary keeps only the
samples taken while a worker was handling a request (waits on the database included, as
py-spy runs with --idle), counted per function: inclusive (the function or what it called)
and self (the function itself, or a C call or a wait in it)."""

import collections
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import workloads
from bench.workloads import usage

_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")
ROOT = Path(__file__).resolve().parent.parent


def _short(frame):
    """'function (path:line)' -> 'function (package/module.py)'."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('function')} ({path})"


def summarize(raw_text, top=18):
    """Collapsed stacks ('frame;frame;... count' lines) -> a text summary."""
    inclusive, own = collections.Counter(), collections.Counter()
    total = 0
    for line in raw_text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or "handle_request" not in stack:
            continue
        count = int(count)
        frames = [_short(frame) for frame in stack.split(";")]
        # From the worker's request handler down: gunicorn's own loop above it is noise.
        handlers = [i for i, frame in enumerate(frames) if frame.split(" (")[0].split(".")[-1] == "handle_request"]
        if not handlers:
            continue
        start = max(handlers)
        frames = frames[start:]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        return "no samples taken while a request was handled\n"
    lines = [f"{total} samples while handling requests", "", "inclusive (the function and what it calls):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    lines += ["", "self (time in the function itself: its C calls and waits included):"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    return "\n".join(lines) + "\n"


def _py_spy():
    found = Path(sys.executable).parent / "py-spy"
    return str(found) if found.exists() else shutil.which("py-spy")


def profile_workload(bench, name, outdir):
    """Run the workload once more with py-spy on the service's workers; write the
    summary to outdir/NAME.txt."""
    py_spy = _py_spy()
    if not py_spy:
        bench.log("py-spy is not installed: no profile")
        return None
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    raw = bench.workdir / f"{name}.raw"
    saved = bench.results.get(name)
    rounds = bench.s.rounds
    bench.s.rounds = min(rounds, 2)
    spy = subprocess.Popen(
        [py_spy, "record", "--idle", "--subprocesses", "--format", "raw", "--rate", "250", "--output", str(raw)]
        + ["--pid", str(bench.service.process.pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        time.sleep(1.0)
        if name == "report":  # its workload restarts the server: drive the request alone
            usage.report_requests(bench, 3)
        else:
            workloads.run(bench, name)
    finally:
        bench.s.rounds = rounds
        if saved is not None:
            bench.results[name] = saved
        spy.send_signal(signal.SIGINT)
        _, errors = spy.communicate(timeout=60)
    if not raw.exists():
        bench.log(f"py-spy failed: {errors.decode(errors='replace')[-500:]}")
        return None
    summary = summarize(raw.read_text())
    (outdir / f"{name}.txt").write_text(f"# py-spy profile of the workload {name}\n\n" + summary)
    bench.log(summary)
    return summary
