"""Marshmallow schemas, one per documented payload, named as the API document names them."""
