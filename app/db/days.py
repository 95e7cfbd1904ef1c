"""Day arithmetic shared by the store: times are microseconds since the epoch (UTC), a
local day is its number of days since 1970-01-01 in the user's timezone."""

from datetime import date, timedelta

DAY_US = 86_400_000_000
HOUR_US = 3_600_000_000
EPOCH = date(1970, 1, 1)


def day_number(day):
    return (day - EPOCH).days


def day_from_number(number):
    return EPOCH + timedelta(days=int(number))
