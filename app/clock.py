"""The service's clock: tests inject a fixed one through config["CLOCK"]."""

from datetime import UTC, datetime

from flask import current_app


def now():
    clock = current_app.config.get("CLOCK")
    return clock() if clock else datetime.now(UTC)


def to_us(moment):
    """Microseconds since the epoch of an aware datetime (naive ones are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(value):
    return datetime.fromtimestamp(value / 1_000_000, UTC).replace(microsecond=value % 1_000_000)
