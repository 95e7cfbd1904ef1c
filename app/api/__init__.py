"""One module per resource, each with one Blueprint (listed in app.api.registry);
`operation` documents a view. Nothing here imports a view: the views import this."""

from http import HTTPStatus

from schemas.errors import BY_STATUS


def operation(blp, *error_codes, errors=BY_STATUS):
    """Document a view: its operationId is the view's name (the reference client's op
    name, also reported in tracedata.operation) and its error responses the documented
    bodies of errors, the dialect's error-schema family (7.9's unless told).

    flask-smorest's alt_response and doc only document, but each wraps the view in a
    function that calls through on every request (with a context-local lookup and a
    coroutine check): ten layers for a view with nine error codes. They are applied here
    for their documentation, and the view itself is returned carrying it."""

    def decorate(view):
        documented = view
        for code in error_codes:
            documented = blp.alt_response(code, schema=errors[code], description=HTTPStatus(code).phrase)(documented)
        documented = blp.doc(operationId=view.__name__)(documented)
        view._apidoc = documented._apidoc
        return view

    return decorate
