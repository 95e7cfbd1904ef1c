"""The exceptions every layer may raise: a leaf module that imports nothing of app, so
that the store, the services, the views and the error handler all depend on it and it
on none of them. app.errors turns each into the documented body of the caller's dialect."""


class ApiError(Exception):
    """A failure with a status and a message meant for the caller."""

    def __init__(self, status, message, headers=None, resource_key=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.resource_key = resource_key


class NotFound(LookupError):
    """A row the caller asked for does not exist (or is not theirs)."""

    def __init__(self, resource_key):
        super().__init__(resource_key)
        self.resource_key = resource_key
