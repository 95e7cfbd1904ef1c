"""The baseline server: a bare Flask JSON endpoint, served by the same gunicorn settings
(`gunicorn --config gunicorn.conf.py --workers 2 bench.bare:app`) as the service.

It reads the JSON body when there is one and answers a small JSON document: what any
Flask JSON endpoint costs, with no authentication, no schema and no database."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/bare", methods=["GET", "POST"])
def bare():
    body = request.get_json(silent=True) if request.method == "POST" else None
    return {"valid": True, "roles": ["USER"], "echo": isinstance(body, str)}
