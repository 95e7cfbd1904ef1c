"""The 7.9 blueprints, one per resource, in the order of the OpenAPI document: registered
on the 7.9 Api by create_app. Here rather than in app.api, which the views import."""

from app.api import audit, auth, data, info, processes, quota, reservations, statistics, system


def blueprints():
    return [
        auth.blp,
        info.blp,
        statistics.blp,
        audit.blp,
        data.blp,
        quota.blp,
        system.blp,
        processes.blp,
        reservations.blp,
    ]
