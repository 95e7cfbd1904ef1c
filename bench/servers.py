"""The two servers a run measures, both gunicorn with gunicorn.conf.py and 2 workers
(launcher.Gunicorn, as the tests start it): the service (wsgi:app) and the bare Flask
endpoint of the baselines (bench/bare.py); the reservations line's third, the service
without its quota decision (bench/ceiling.py); and what the bench reads of their workers'
memory."""

import threading
import time
from pathlib import Path

import launcher

JWT_SECRET = "bench-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
MB = 1024 * 1024


def environment(database_url, workdir):
    """The servers' environment: the service's settings for the bench."""
    return launcher.environment(
        DATABASE_URL=database_url,
        JWT_SECRET=JWT_SECRET,
        INSTANCE_PATH=str(Path(workdir) / "instance"),
        ENV_ID="bench",
        POD_ID="bench-pod",
        # A batch of 1,000 records with 5 requests and 10 point keys each is ~2.5 MB of JSON.
        MAX_CONTENT_LENGTH=str(16 * MB),
        # Every bench login succeeds; the throttle's bookkeeping stays in the measured path.
        LOGIN_THROTTLE="true",
        # No load balancer to wait for: a restart need not drain (README, Graceful shutdown).
        SHUTDOWN_DELAY="0",
    )


def start(database_url, workdir):
    """(service, bare), started: the service with the bench's settings, the bare endpoint
    in the same environment."""
    env = environment(database_url, workdir)
    service = launcher.Gunicorn(env, workdir, ready_path="/account/system/version", name="service")
    bare = launcher.Gunicorn(env, workdir, app_spec="bench.bare:app", ready_path="/bare", name="bare")
    service.start()
    try:
        bare.start()
    except BaseException:
        service.stop()
        raise
    return service, bare


def ceiling(database_url, workdir):
    """The service with its quota decision replaced (bench/ceiling.py), not started."""
    return launcher.Gunicorn(
        environment(database_url, workdir),
        workdir,
        app_spec="bench.ceiling:app",
        ready_path="/account/system/version",
        name="ceiling",
    )


def status_kb(pid, key):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _kb(pid, key):
    """The /proc/PID/status figure, or 0 once the process is gone (a worker killed mid-answer)."""
    try:
        return status_kb(pid, key)
    except (OSError, KeyError):
        return 0


def reset_peak(pid):
    """Reset VmHWM (the peak RSS) to the current RSS; False where the kernel refuses."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


class PeakRss:
    """Each worker's peak RSS growth (MB) over the with block, in growth_mb after it: VmRSS
    polled every 5 ms, and VmHWM reset first and read after where the kernel allows."""

    def __init__(self, workers):
        self.workers = list(workers)
        self.growth_mb = {}

    def __enter__(self):
        self.before = {pid: status_kb(pid, "VmRSS") for pid in self.workers}
        self.resettable = all(reset_peak(pid) for pid in self.workers)
        self.peaks = dict(self.before)
        self.stopped = threading.Event()
        self.poller = threading.Thread(target=self._poll)
        self.poller.start()
        return self

    def _poll(self):
        while not self.stopped.is_set():
            for pid in self.workers:
                self.peaks[pid] = max(self.peaks[pid], _kb(pid, "VmRSS"))
            time.sleep(0.005)

    def __exit__(self, *exc_info):
        self.stopped.set()
        self.poller.join()
        if self.resettable:
            for pid in self.workers:
                self.peaks[pid] = max(self.peaks[pid], _kb(pid, "VmHWM"))
        self.growth_mb = {pid: (self.peaks[pid] - self.before[pid]) / 1024 for pid in self.workers}
