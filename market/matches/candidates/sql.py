"""The few helpers the SQL of the bound is built with, and where PostgreSQL and SQLite differ."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Float, bindparam, case, func, literal, literal_column


def p(name: str, type_: Any = Float) -> Any:
    return bindparam(name, type_=type_)


def c_(x: float) -> Any:
    """A constant in the SQL text (fewer parameters to send); for arithmetic only."""
    return literal_column(f"CAST({float(x)!r} AS FLOAT)", Float)


def exact(x: float) -> Any:
    """A constant that must arrive as exactly this double (it is compared for equality)."""
    return literal(float(x), Float)


def abs_(x: Any) -> Any:
    return func.abs(x, type_=Float)


class Sql:
    """The few places where PostgreSQL and SQLite differ."""

    def __init__(self, pg: bool) -> None:
        self.pg = pg

    def order_id(self, column: Any) -> Any:
        # Python compares ids by code point; so do "C" (PostgreSQL) and BINARY (SQLite).
        return column.collate("C") if self.pg else column

    # Each argument is evaluated once; none of them may be NULL (SQLite's min and max would
    # give NULL, PostgreSQL's least and greatest would ignore it).
    def least(self, *args: Any) -> Any:
        return func.least(*args, type_=Float) if self.pg else func.min(*args, type_=Float)

    def greatest(self, *args: Any) -> Any:
        return func.greatest(*args, type_=Float) if self.pg else func.max(*args, type_=Float)

    def hypot_lower(self, dx: Any, dy: Any) -> Any:
        """sqrt(dx^2 + dy^2), or on SQLite (which may lack sqrt) an octagon below it."""
        if self.pg:
            return func.sqrt(dx * dx + dy * dy, type_=Float)
        ax, ay = abs_(dx), abs_(dy)
        return self.greatest(ax, ay, (ax + ay) * c_((1 / math.sqrt(2)) * (1 - 1e-12)))

    def days_before_now(self, column: Any) -> Any:
        """Days from `column` to the parameter now_x (epoch seconds or a Julian day)."""
        if self.pg:
            return (p("now_x") - func.date_part("epoch", column, type_=Float)) / c_(86400.0)
        return p("now_x") - func.julianday(column, type_=Float)

    def aggregate(self, value: Any) -> Any:
        if self.pg:
            return func.string_agg(value, literal_column("','"))
        return func.group_concat(value, ",")

    def before_dash(self, code: Any) -> Any:
        if self.pg:
            return func.split_part(code, "-", 1)
        dash = func.instr(code, "-")
        return case((dash > 0, func.substr(code, 1, dash - 1)), else_=code)
