"""The row-filter language: a small, safe expression evaluated per row (never Python's eval).

Grammar (Python-like spelling, SQL-like NULL logic)::

    expr     := expr "or" expr | expr "and" expr | "not" expr | compare
    compare  := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)*
              | sum ["not"] "in" "(" literal ("," literal)* ")"
              | sum "is" ["not"] "null"
    sum      := term (("+" | "-") term)* ; term := unary (("*" | "/" | "%") unary)*
    unary    := "-" unary | atom
    atom     := column | literal | function "(" args ")" | "(" expr ")"
    literal  := 'text' | "text" | 12 | 1.5 | true | false | null
    function := lower | upper | length | coalesce | abs

Text is parsed by Python's `ast` module in "eval" mode and every node is checked against a
whitelist; anything else (attributes, subscripts, lambdas, other calls) is refused with the
character position. A comparison with NULL is unknown, and a row passes only when the whole
expression is true, as in SQL's WHERE. A date or time column compared with a text literal reads
the literal as an ISO date/time.
"""

from __future__ import annotations

import ast
import datetime
import decimal
import operator
from collections.abc import Callable, Sequence
from typing import Any

Row = Sequence[Any]
Evaluate = Callable[[Row], Any]

KEYWORD_LITERALS = {"null": None, "true": True, "false": False}
FUNCTIONS: dict[str, tuple[int, int]] = {"lower": (1, 1), "upper": (1, 1), "length": (1, 1),
                                         "coalesce": (1, 16), "abs": (1, 1)}
COMPARE: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge}
ARITHMETIC: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Mod: operator.mod}


class ExpressionError(ValueError):
    """A filter that does not parse or names what does not exist; `offset` is the 0-based character."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at {offset}")
        self.offset = offset


class EvaluationError(ValueError):
    """A filter that cannot be evaluated on one row (e.g. text compared with a number)."""


def parse(text: str) -> ast.expr:
    """The checked syntax tree of a filter (columns are not resolved yet)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the filter is empty", 0)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        offset = max((exc.offset or 1) - 1, 0)
        found = text[offset] if offset < len(text) else ""
        raise ExpressionError(f"unexpected {found!r}" if found else "unexpected end of the filter",
                              offset) from None
    _check(tree.body)
    return tree.body


def columns_of(text: str) -> set[str]:
    return {node.id for node in ast.walk(parse(text))
            if isinstance(node, ast.Name) and node.id not in KEYWORD_LITERALS and node.id not in FUNCTIONS}


def _check(node: ast.AST) -> None:
    offset = getattr(node, "col_offset", 0)
    if isinstance(node, ast.BoolOp | ast.Compare | ast.BinOp | ast.UnaryOp | ast.Name):
        if isinstance(node, ast.UnaryOp) and not isinstance(node.op, ast.Not | ast.USub):
            raise ExpressionError("only 'not' and '-' may prefix a value", offset)
        if isinstance(node, ast.BinOp) and type(node.op) not in ARITHMETIC:
            raise ExpressionError("only + - * / % are allowed between values", offset)
        if isinstance(node, ast.Compare):
            for op, right in zip(node.ops, node.comparators, strict=True):
                if isinstance(op, ast.In | ast.NotIn):
                    if not isinstance(right, ast.Tuple | ast.List) or not all(
                            _is_literal(item) for item in right.elts):
                        raise ExpressionError("'in' needs a list of literals: x in ('a', 'b')", right.col_offset)
                elif isinstance(op, ast.Is | ast.IsNot):
                    if not (isinstance(right, ast.Name) and right.id == "null"):
                        raise ExpressionError("'is' is only for 'is null' and 'is not null'", right.col_offset)
                elif type(op) not in COMPARE:
                    raise ExpressionError("unknown comparison", offset)
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, ast.operator | ast.boolop | ast.unaryop | ast.cmpop | ast.expr_context):
                _check(child)
        return
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float) or node.value is Ellipsis:
            raise ExpressionError("only text, numbers, true, false and null are literals", offset)
        return
    if isinstance(node, ast.Tuple | ast.List):
        for item in node.elts:
            _check(item)
        return
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError(f"{_describe(node.func)} is not allowed in a filter", offset)
        if node.func.id not in FUNCTIONS:
            raise ExpressionError(f"unknown function; known: {', '.join(sorted(FUNCTIONS))}", offset)
        low, high = FUNCTIONS[node.func.id]
        if node.keywords or not low <= len(node.args) <= high:
            raise ExpressionError(f"{node.func.id}() takes {low if low == high else f'{low} to {high}'} "
                                  "argument(s)", offset)
        for arg in node.args:
            _check(arg)
        return
    raise ExpressionError(f"{_describe(node)} is not allowed in a filter", offset)


def _is_literal(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str | int | float)) or (
        isinstance(node, ast.Name) and node.id in KEYWORD_LITERALS) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant))


def _describe(node: ast.AST) -> str:
    names = {ast.Attribute: "'.' (attribute access)", ast.Subscript: "'[]' (subscript)", ast.Lambda: "lambda",
             ast.IfExp: "'if … else'", ast.Dict: "a dict", ast.Set: "a set", ast.NamedExpr: "':='"}
    return names.get(type(node), type(node).__name__)


def compile_filter(text: str, columns: Sequence[str]) -> Evaluate:
    """A function row -> True / False / None (unknown) for rows in `columns` order."""
    index = {name: i for i, name in enumerate(columns)}
    return _compile(parse(text), index)


def passes(evaluate: Evaluate, row: Row) -> bool:
    return evaluate(row) is True


def _compile(node: ast.expr, index: dict[str, int]) -> Evaluate:
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda row: value
    if isinstance(node, ast.Name):
        if node.id in KEYWORD_LITERALS:
            literal = KEYWORD_LITERALS[node.id]
            return lambda row: literal
        if node.id not in index:
            raise ExpressionError(f"unknown column {node.id!r}", node.col_offset)
        at = index[node.id]
        return lambda row: row[at]
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, index)
        if isinstance(node.op, ast.Not):
            return lambda row: _not(operand(row))
        return lambda row: _arith(operator.neg, operand(row))
    if isinstance(node, ast.BinOp):
        left, right, op = _compile(node.left, index), _compile(node.right, index), ARITHMETIC[type(node.op)]
        return lambda row: _arith(op, left(row), right(row))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(value, index) for value in node.values]
        if isinstance(node.op, ast.And):
            return lambda row: _and(parts, row)
        return lambda row: _or(parts, row)
    if isinstance(node, ast.Compare):
        return _compile_compare(node, index)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        args = [_compile(arg, index) for arg in node.args]
        return _function(node.func.id, args)
    raise ExpressionError(f"{_describe(node)} is not allowed in a filter", node.col_offset)


def _compile_compare(node: ast.Compare, index: dict[str, int]) -> Evaluate:
    operands = [_compile(node.left, index)] + [_compile(c, index) if not isinstance(op, ast.Is | ast.IsNot | ast.In
                                                                                     | ast.NotIn) else _literals(c)
                                               for op, c in zip(node.ops, node.comparators, strict=True)]
    steps: list[Callable[[Any, Any], Any]] = [_comparison(op) for op in node.ops]

    def evaluate(row: Row) -> Any:
        result: Any = True
        left = operands[0](row)
        for step, operand in zip(steps, operands[1:], strict=True):
            right = operand(row)
            result = _and_values(result, step(left, right))
            left = right
        return result

    return evaluate


def _literals(node: ast.expr) -> Evaluate:
    if isinstance(node, ast.Name) and node.id == "null":
        return lambda row: None
    assert isinstance(node, ast.Tuple | ast.List)
    values = tuple(_literal_value(item) for item in node.elts)
    return lambda row: values


def _literal_value(node: ast.expr) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return KEYWORD_LITERALS[node.id]
    assert isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant)
    value = node.operand.value
    assert isinstance(value, int | float)
    return -value


def _comparison(op: ast.cmpop) -> Callable[[Any, Any], Any]:
    if isinstance(op, ast.Is):
        return lambda left, _: left is None
    if isinstance(op, ast.IsNot):
        return lambda left, _: left is not None
    if isinstance(op, ast.In | ast.NotIn):
        negate = isinstance(op, ast.NotIn)

        def member(left: Any, values: tuple[Any, ...]) -> Any:
            if left is None:
                return None
            found = any(_compare(operator.eq, left, value) for value in values)
            return not found if negate else found

        return member
    compare = COMPARE[type(op)]
    return lambda left, right: _compare(compare, left, right)


def _coerce(value: Any, like: Any) -> Any:
    """A text literal compared with a date/time column, read as ISO text; numbers with Decimal as Decimal."""
    if isinstance(value, str):
        try:
            if isinstance(like, datetime.datetime):
                parsed = datetime.datetime.fromisoformat(value)
                if like.tzinfo is not None and parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=datetime.UTC)
                return parsed
            if isinstance(like, datetime.date):
                return datetime.date.fromisoformat(value)
        except ValueError as exc:
            raise EvaluationError(f"{value!r} is not an ISO date/time to compare with {like!r}") from exc
    if isinstance(value, float) and isinstance(like, decimal.Decimal):
        return decimal.Decimal(repr(value))
    return value


def _compare(compare: Callable[[Any, Any], bool], left: Any, right: Any) -> Any:
    if left is None or right is None:
        return None
    left, right = _coerce(left, right), _coerce(right, left)
    try:
        return compare(left, right)
    except TypeError as exc:
        raise EvaluationError(f"cannot compare {left!r} with {right!r}") from exc


def _arith(op: Callable[..., Any], *values: Any) -> Any:
    if any(value is None for value in values):
        return None
    if len(values) == 2:
        values = (_coerce(values[0], values[1]), _coerce(values[1], values[0]))
    try:
        return op(*values)
    except (TypeError, ArithmeticError) as exc:
        raise EvaluationError(f"cannot compute with {', '.join(repr(v) for v in values)}: {exc}") from exc


def _not(value: Any) -> Any:
    return None if value is None else not value


def _and_values(left: Any, right: Any) -> Any:
    if left is False or right is False:
        return False
    if left is None or right is None:
        return None
    return bool(left) and bool(right)


def _and(parts: list[Evaluate], row: Row) -> Any:
    result: Any = True
    for part in parts:
        value = part(row)
        if value is not None and not value:
            return False
        if value is None:
            result = None
    return result


def _or(parts: list[Evaluate], row: Row) -> Any:
    result: Any = False
    for part in parts:
        value = part(row)
        if value is None:
            result = None
        elif value:
            return True
    return result


def _function(name: str, args: list[Evaluate]) -> Evaluate:
    if name == "coalesce":
        return lambda row: next((v for v in (arg(row) for arg in args) if v is not None), None)
    (arg,) = args
    functions: dict[str, Callable[[Any], Any]] = {"lower": lambda v: str(v).lower(), "upper": lambda v: str(v).upper(),
                                                  "length": lambda v: len(v), "abs": abs}
    function = functions[name]

    def call(row: Row) -> Any:
        value = arg(row)
        if value is None:
            return None
        try:
            return function(value)
        except TypeError as exc:
            raise EvaluationError(f"{name}({value!r}): {exc}") from exc

    return call
