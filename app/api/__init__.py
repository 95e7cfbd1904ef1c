"""One module per resource, each with one Blueprint (listed in app.api.registry);
`operation` documents a view. Nothing here imports a view: the views import this."""

from http import HTTPStatus

from schemas.errors import BY_STATUS


def operation(blp, *error_codes, errors=BY_STATUS):
    """Document a view: its operationId is the view's name (the reference client's op
    name, also reported in tracedata.operation) and its error responses the documented
    bodies of errors, the dialect's error-schema family (7.9's unless told)."""

    def decorate(view):
        for code in error_codes:
            view = blp.alt_response(code, schema=errors[code], description=HTTPStatus(code).phrase)(view)
        return blp.doc(operationId=view.__name__)(view)

    return decorate
