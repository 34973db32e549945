"""The filter language: what it accepts, how it evaluates (SQL-like NULL logic), and what it refuses, where."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest

from connectors.transform.expression import EvaluationError, ExpressionError, compile_filter, passes

COLUMNS = ["id", "status", "amount", "note", "created"]


def check(text: str, row: tuple[Any, ...]) -> Any:
    return compile_filter(text, COLUMNS)(row)


ROW = (1, "paid", Decimal("5.50"), None, datetime.datetime(2024, 3, 1, 12, 0))


@pytest.mark.parametrize(("text", "expected"), [
    ("status != 'deleted' and amount > 0", True),
    ("status == 'paid' and amount > 10", False),
    ("amount * 2 >= 11", True),
    ("amount > 5.4", True),
    ("status in ('new', 'paid')", True),
    ("status not in ('new', 'paid')", False),
    ("note is null", True),
    ("note is not null", False),
    ("note == 'x'", None),  # unknown, as in SQL
    ("not (note == 'x')", None),
    ("note == 'x' or id == 1", True),
    ("note == 'x' and id == 2", False),
    ("coalesce(note, 'none') == 'none'", True),
    ("upper(status) == 'PAID' and length(status) == 4", True),
    ("created >= '2024-01-01' and created < '2024-03-02'", True),
    ("-amount < 0 and abs(-3) == 3 and id % 2 == 1", True),
    ("1 < id + 1 <= 2", True),
    ("status == true", False),
])
def test_it_evaluates(text: str, expected: Any) -> None:
    assert check(text, ROW) is expected


def test_only_true_passes() -> None:
    unknown = compile_filter("note == 'x'", COLUMNS)
    assert not passes(unknown, ROW)
    assert passes(compile_filter("id == 1", COLUMNS), ROW)


@pytest.mark.parametrize(("text", "message"), [
    ("status != 'deleted' and amount > 0)", "unexpected ')' at 34"),
    ("amount = 1", "unexpected '=' at 7"),
    ("status.upper() == 'X'", "'.' (attribute access) is not allowed in a filter at 0"),
    ("__import__('os').system('x')", "'.' (attribute access) is not allowed in a filter at 0"),
    ("open('f')", "unknown function; known: abs, coalesce, length, lower, upper at 0"),
    ("status[0] == 'p'", "'[]' (subscript) is not allowed in a filter at 0"),
    ("id is 1", "'is' is only for 'is null' and 'is not null' at 6"),
    ("id in (status)", "'in' needs a list of literals: x in ('a', 'b') at 7"),
    ("nope > 1", "unknown column 'nope' at 0"),
    ("id > 1 and (lambda: 1)", "lambda is not allowed in a filter at 12"),
    ("lower(status, 1) == 'x'", "lower() takes 1 argument(s) at 0"),
    ("  ", "the filter is empty at 0"),
])
def test_it_refuses_with_the_position(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as error:
        compile_filter(text, COLUMNS)
    assert str(error.value) == message


def test_a_row_it_cannot_evaluate_is_an_evaluation_error() -> None:
    with pytest.raises(EvaluationError, match="cannot compare 'paid' with 3"):
        check("status > 3", ROW)
    with pytest.raises(EvaluationError, match="not an ISO date"):
        check("created > 'yesterday'", ROW)
