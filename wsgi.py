"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi ...`."""

import sys

from app import create_app
from app.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    # One line, no traceback. gunicorn.conf.py stops gunicorn's master before any worker
    # gets here; a worker started without it must stop the master rather than exit
    # (gunicorn would start it again, forever): an AppImportError does that.
    if "gunicorn.arbiter" in sys.modules:
        from gunicorn.errors import AppImportError

        raise AppImportError(f"Error: {exc}") from None
    sys.exit(f"Error: {exc}")
