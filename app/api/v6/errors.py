"""The 6.20 error bodies, registered with app.errors for the requests under /v6 when the
dialect is served (app.api.v6.init_app): the core's handler never looks for them."""

from app.api.v6.mapping import client, server


def tracedata(trace):
    """The 7.9 tracedata of app.errors -> the 6.20 Tracedata."""
    return {
        "code": trace["process_code"],
        "client": client(trace["company"], trace["username"]),
        "server": server(trace["pod"]),
        "service": trace["service"],
        "operation": trace["operation"],
        "time": trace["time"],
    }


def error_body(status, message, resource_id, trace):
    """The 6.20 error bodies: General404 {resource_id, detail}, the others {tracedata, message}."""
    if status == 404:
        return {"resource_id": resource_id, "detail": {"tracedata": tracedata(trace)}}
    return {"tracedata": tracedata(trace), "message": message}
