"""Months, working days and locking dates, in Swedish time.

A month is a calendar month in Europe/Stockholm: a pickup at 00:30 on 1 May Swedish time
(22:30 UTC on 30 April) belongs to May. A working day (vardag) is Monday to Friday and not
a Swedish public holiday, nor Midsummer Eve, Christmas Eve or New Year's Eve, which the law
on computing time limits (lag (1930:173) om beräkning av lagstadgad tid) treats as
holidays; the dates come from the maintained ``holidays`` package (its "public" and
"de_facto" categories for Sweden). The locking date
(spärrdatum) of a month is the N-th working day of the next month (Haninge: 3); from the
day after it, the month can be closed and nothing dated in it changes any more.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from provisioning.errors import UnknownEntity

STOCKHOLM = ZoneInfo("Europe/Stockholm")
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class MunicipalRules:
    """The municipality's numbers (``[periods]`` and ``[orders]`` in the settings)."""

    locking_working_days: int = 3
    order_lead_working_days: int = 1

    def __post_init__(self) -> None:
        if self.locking_working_days < 1 or self.order_lead_working_days < 0:
            raise ValueError("locking_working_days >= 1 and order_lead_working_days >= 0")


def parse_month(text: str) -> tuple[int, int]:
    found = _MONTH.match(text.strip())
    if not found:
        raise UnknownEntity(f"month must be YYYY-MM, not {text!r}")
    return int(found.group(1)), int(found.group(2))


def month_of(moment: dt.datetime | dt.date) -> str:
    """YYYY-MM of a moment (in Stockholm time) or of a date."""
    if isinstance(moment, dt.datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime; give UTC or Stockholm time")
        moment = moment.astimezone(STOCKHOLM).date()
    return f"{moment.year:04d}-{moment.month:02d}"


def next_month(month: str) -> str:
    year, mon = parse_month(month)
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def month_bounds_utc(month: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a Stockholm calendar month, in UTC."""
    year, mon = parse_month(month)
    nyear, nmon = parse_month(next_month(month))
    start = dt.datetime(year, mon, 1, tzinfo=STOCKHOLM)
    end = dt.datetime(nyear, nmon, 1, tzinfo=STOCKHOLM)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


@lru_cache(maxsize=64)
def _holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("SE", years=year, categories=("public", "de_facto"))


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year)


def add_working_days(day: dt.date, count: int) -> dt.date:
    """The *count*-th working day after *day* (``count`` 0: *day* itself if it works)."""
    if count == 0:
        while not is_working_day(day):
            day += dt.timedelta(days=1)
        return day
    while count:
        day += dt.timedelta(days=1)
        count -= is_working_day(day)
    return day


def locking_date(month: str, working_days: int) -> dt.date:
    """The *working_days*-th working day of the month after *month*."""
    year, mon = parse_month(next_month(month))
    return add_working_days(dt.date(year, mon, 1) - dt.timedelta(days=1), working_days)


def today_in_sweden(now: dt.datetime) -> dt.date:
    return now.astimezone(STOCKHOLM).date()
