"""Version of the service: API major/minor are fixed by the documented contract."""

API_MAJOR = 7
API_MINOR = 9
__version__ = "1.0.0"
