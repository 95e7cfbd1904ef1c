"""gunicorn serving an app of this repository (wsgi:app, or bench.bare:app), as the
README's production runs it: gunicorn.conf.py (its worker class and threads) and 2 workers.

The listening socket is bound before gunicorn starts and handed to it (`--bind fd://N`), so
the first request waits in the backlog until a worker takes it: no polling for the port,
and if gunicorn dies, connections are refused at once."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
STARTUP_SECONDS = 60
STOP_SECONDS = 20


class LaunchError(RuntimeError):
    """A process did not start; the message ends with the tail of its log."""


def environment(**settings):
    """This process's environment without its ACCOUNT_* variables, plus ACCOUNT_<NAME> for
    each setting given: a server configured by its caller alone."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("ACCOUNT_")}
    env.update({f"ACCOUNT_{name}": str(value) for name, value in settings.items()})
    return env


class Gunicorn:
    """gunicorn --config gunicorn.conf.py --workers N [args] app_spec, run from the
    repository's root with env as its whole environment; its output goes to
    workdir/NAME.out and workdir/NAME.err (appended to across restarts).

    start() returns once ready_path answers 200 and all the workers are up (the bench reads
    their memory); stop() sends SIGTERM and kills after STOP_SECONDS. Each start binds a
    new port: read host or port after it."""

    def __init__(
        self, env, workdir, app_spec="wsgi:app", ready_path="/account/system/check", args=(), workers=2, name="gunicorn"
    ):
        self.env, self.workdir, self.app_spec = env, Path(workdir), app_spec
        self.ready_path, self.args, self.worker_count = ready_path, tuple(args), workers
        self.stdout_path = self.workdir / f"{name}.out"
        self.stderr_path = self.workdir / f"{name}.err"
        self.process = None
        self.port = None

    @property
    def host(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self):
        """gunicorn's master."""
        return self.process.pid if self.process else 0

    def start(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        fd = listener.fileno()
        os.set_inheritable(fd, True)
        command = [str(BIN / "gunicorn"), "--config", str(ROOT / "gunicorn.conf.py"), "--bind", f"fd://{fd}"]
        command += ["--workers", str(self.worker_count), *self.args, self.app_spec]
        with open(self.stdout_path, "ab") as stdout, open(self.stderr_path, "ab") as stderr:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                start_new_session=True,  # a Ctrl-C of the caller reaches it through stop() alone
            )
        listener.close()  # gunicorn holds it now
        try:
            self._wait_ready()
        except LaunchError:
            self.stop()
            raise
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + STARTUP_SECONDS
        try:
            with urllib.request.urlopen(self.host + self.ready_path, timeout=STARTUP_SECONDS) as response:
                response.read()
        except (OSError, ValueError) as exc:  # HTTPError (not 200) is an OSError
            raise LaunchError(f"gunicorn {self.app_spec} did not serve ({exc}):\n{self._log_tail()}") from None
        while len(self.workers()) < self.worker_count:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise LaunchError(f"gunicorn {self.app_spec}: its workers did not start:\n{self._log_tail()}")
            time.sleep(0.05)

    def _log_tail(self):
        try:
            return self.stderr_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def workers(self):
        """The worker processes' ids."""
        try:
            return [int(pid) for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except OSError:
            return []

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def restart(self):
        """Fresh workers (on a new port)."""
        self.stop()
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
