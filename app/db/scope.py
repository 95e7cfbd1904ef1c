"""Which stored names an answer includes: the 6.20 dialect shows every process, the 7.9
dialect only those that name nothing but 7.9 services and process types."""

from typing import NamedTuple

from sqlalchemy import and_, exists

from app.db.tables import process_requests, processes
from schemas.common import PROCESS_TYPES, SERVICES


class Scope(NamedTuple):
    """services and process_types an answer may name (None: every stored one). A process
    that names another value, in itself or in one of its requests, is left out."""

    services: frozenset | None
    process_types: frozenset | None

    @property
    def restricted(self):
        return self.services is not None

    def admits(self, service, process_type, request_services=()):
        if not self.restricted:
            return True
        return (
            service in self.services
            and process_type in self.process_types
            and all(name in self.services for name in request_services)
        )


EVERY = Scope(None, None)
V79 = Scope(frozenset(SERVICES), frozenset(PROCESS_TYPES))


def clauses(scope, requests_too=False):
    """WHERE clauses keeping only the processes of scope; with requests_too, a process one
    of whose requests names another service is left out as well."""
    if not scope.restricted:
        return []
    services, process_types = sorted(scope.services), sorted(scope.process_types)
    found = [processes.c.service.in_(services), processes.c.process_type.in_(process_types)]
    if requests_too:
        found.append(
            ~exists().where(
                and_(
                    process_requests.c.process_code == processes.c.process_code,
                    process_requests.c.service.not_in(services),
                )
            )
        )
    return found
