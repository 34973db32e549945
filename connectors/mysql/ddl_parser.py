"""Which tables a binlog QueryEvent's statement changes: CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE,
CREATE/DROP INDEX and DROP DATABASE. Only the statement's head is parsed (names, not column
definitions): the new schema is read from information_schema and the binlog's TABLE_MAPs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.types import TableId

CREATE_TABLE = "create_table"
ALTER_TABLE = "alter_table"
DROP_TABLE = "drop_table"
RENAME_TABLE = "rename_table"
TRUNCATE_TABLE = "truncate_table"
CREATE_INDEX = "create_index"
DROP_INDEX = "drop_index"
DROP_DATABASE = "drop_database"


@dataclass(frozen=True)
class DdlStatement:
    kind: str
    tables: tuple[TableId, ...]  # every table whose schema the statement changes (old and new names)
    database: str = ""  # DROP DATABASE


_TOKEN = re.compile(
    r"""\s+|--[^\n]*|\#[^\n]*|/\*M?!\d*|/\*.*?\*/|\*/|`(?:[^`]|``)*`|'(?:[^'\\]|\\.|'')*'"""
    r"""|"(?:[^"\\]|\\.|"")*"|[A-Za-z0-9_$\u0080-\uffff]+|.""", re.DOTALL)


def tokenize(sql: str) -> list[str]:
    """Words, quoted names and punctuation; comments dropped, /*! versioned comments */ opened up."""
    tokens: list[str] = []
    for match in _TOKEN.finditer(sql):
        piece = match.group(0)
        # Comments go; a /*! versioned comment */ keeps its body, which follows as ordinary tokens.
        if piece.isspace() or piece.startswith(("--", "#", "/*")) or piece == "*/":
            continue
        tokens.append(piece)
    return tokens


def _name(token: str) -> str:
    if len(token) >= 2 and token[0] == "`" and token[-1] == "`":
        return token[1:-1].replace("``", "`")
    return token


class _Parser:
    def __init__(self, tokens: list[str], default_db: str) -> None:
        self.tokens = tokens
        self.i = 0
        self.default_db = default_db

    def peek(self, offset: int = 0) -> str:
        index = self.i + offset
        return self.tokens[index].upper() if index < len(self.tokens) else ""

    def accept(self, *words: str) -> bool:
        """Consume the words if they come next, in order."""
        for offset, word in enumerate(words):
            if self.peek(offset) != word:
                return False
        self.i += len(words)
        return True

    def accept_any(self, *words: str) -> bool:
        return any(self.accept(word) for word in words)

    def table(self) -> TableId | None:
        if self.i >= len(self.tokens):
            return None
        first = _name(self.tokens[self.i])
        self.i += 1
        if self.peek() == "." and self.i + 1 < len(self.tokens):
            second = _name(self.tokens[self.i + 1])
            self.i += 2
            return TableId(first, second)
        if not self.default_db:
            return None
        return TableId(self.default_db, first)

    def skip_to_top_level(self, words: set[str]) -> str:
        """Advance to the next of words outside parentheses; returns it ('' at the end)."""
        depth = 0
        while self.i < len(self.tokens):
            piece = self.tokens[self.i]
            if piece == "(":
                depth += 1
            elif piece == ")":
                depth -= 1
            elif depth == 0 and piece.upper() in words:
                return piece.upper()
            self.i += 1
        return ""


def parse_ddl(sql: str, default_db: str) -> DdlStatement | None:
    """The tables a DDL statement changes, or None if it changes no table's schema (or is not DDL)."""
    tokens = tokenize(sql)
    if not tokens:
        return None
    p = _Parser(tokens, default_db)
    head = p.peek()
    if head == "CREATE":
        p.i += 1
        p.accept("OR", "REPLACE")
        if p.accept("TEMPORARY"):
            return None  # session-local: never replicated as a table
        if p.accept("TABLE"):
            p.accept("IF", "NOT", "EXISTS")
            table = p.table()
            return DdlStatement(CREATE_TABLE, (table,)) if table else None
        p.accept_any("ONLINE", "OFFLINE")
        for word in ("UNIQUE", "FULLTEXT", "SPATIAL", "VECTOR"):
            if p.accept(word):
                break
        if p.accept("INDEX") or p.accept("KEY"):
            if p.skip_to_top_level({"ON"}) != "ON":
                return None
            p.i += 1
            table = p.table()
            return DdlStatement(CREATE_INDEX, (table,)) if table else None
        return None
    if head == "ALTER":
        p.i += 1
        p.accept_any("ONLINE", "OFFLINE")
        p.accept("IGNORE")
        if not p.accept("TABLE"):
            return None
        p.accept("IF", "EXISTS")
        table = p.table()
        if table is None:
            return None
        tables = [table]
        # ALTER TABLE t ..., RENAME [TO|AS] u: the new name changes too.
        while p.skip_to_top_level({"RENAME"}) == "RENAME":
            p.i += 1
            if p.peek() in ("COLUMN", "INDEX", "KEY", "CONSTRAINT"):
                continue
            p.accept("TO") or p.accept("AS")
            new = p.table()
            if new is not None:
                tables.append(new)
        return DdlStatement(ALTER_TABLE, tuple(tables))
    if head == "DROP":
        p.i += 1
        if p.accept("TEMPORARY"):
            return None
        if p.accept("TABLE") or p.accept("TABLES"):
            p.accept("IF", "EXISTS")
            tables = []
            while True:
                table = p.table()
                if table is None:
                    break
                tables.append(table)
                if p.peek() != ",":
                    break
                p.i += 1
            return DdlStatement(DROP_TABLE, tuple(tables)) if tables else None
        if p.accept("DATABASE") or p.accept("SCHEMA"):
            p.accept("IF", "EXISTS")
            if p.i >= len(tokens):
                return None
            return DdlStatement(DROP_DATABASE, (), database=_name(tokens[p.i]))
        p.accept_any("ONLINE", "OFFLINE")
        if p.accept("INDEX") or p.accept("KEY"):
            if p.skip_to_top_level({"ON"}) != "ON":
                return None
            p.i += 1
            table = p.table()
            return DdlStatement(DROP_INDEX, (table,)) if table else None
        return None
    if head == "RENAME":
        p.i += 1
        if not (p.accept("TABLE") or p.accept("TABLES")):
            return None
        tables = []
        while True:
            old = p.table()
            if old is None or not p.accept("TO"):
                break
            new = p.table()
            if new is None:
                break
            tables += [old, new]
            if p.peek() != ",":
                break
            p.i += 1
        return DdlStatement(RENAME_TABLE, tuple(tables)) if tables else None
    if head == "TRUNCATE":
        p.i += 1
        p.accept("TABLE")
        table = p.table()
        return DdlStatement(TRUNCATE_TABLE, (table,)) if table else None
    return None
