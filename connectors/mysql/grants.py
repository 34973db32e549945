"""The current account's privileges, parsed from SHOW GRANTS.

SHOW GRANTS is the one source that works for every user on MySQL 5.7/8 and MariaDB: the
information_schema privilege tables hide other levels, and mysql.* needs extra rights. Lines look
like

    GRANT SELECT, REPLICATION SLAVE ON *.* TO `u`@`%` IDENTIFIED BY PASSWORD '*...'
    GRANT ALL PRIVILEGES ON `shop\\_eu`.* TO `u`@`%` WITH GRANT OPTION
    GRANT SELECT (`id`, `name`), INSERT ON `shop`.`orders` TO `u`@`%`
    GRANT `role` TO `u`@`%`               (a role: its privileges come on their own lines)
    REVOKE INSERT ON `mysql`.* FROM `u`@`%`   (MySQL 8 partial revokes)

so the parser scans for ON / TO at the top level (outside quotes and parentheses) rather than
splitting on spaces. Column-level privileges are ignored: they do not grant a whole table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ALL = "ALL PRIVILEGES"

# MariaDB 10.5 renamed REPLICATION CLIENT to BINLOG MONITOR and split SLAVE MONITOR off it;
# SHOW GRANTS prints the new names, so any of them counts.
REPLICATION_CLIENT_NAMES = frozenset({"REPLICATION CLIENT", "BINLOG MONITOR", "SLAVE MONITOR", "REPLICA MONITOR"})


@dataclass(frozen=True)
class Grant:
    privileges: frozenset[str]  # upper case, single spaces; "ALL PRIVILEGES" for ALL
    database: str | None  # None for *.*; else the pattern as granted (may hold % and _ wildcards)
    table: str | None  # None unless granted on one table
    revoke: bool = False


def _scan_to(text: str, start: int, keywords: tuple[str, ...]) -> tuple[int, str]:
    """Index of the first keyword (e.g. ' ON ') at the top level of text[start:], and which one."""
    depth = 0
    quote = ""
    upper = text.upper()
    i = start
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                # A doubled quote stays inside the quoted name.
                if i + 1 < len(text) and text[i + 1] == quote:
                    i += 2
                    continue
                quote = ""
        elif ch in "`'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0:
            for keyword in keywords:
                if upper.startswith(keyword, i):
                    return i, keyword
        i += 1
    return -1, ""


def _split_top(text: str, sep: str) -> list[str]:
    """Split on sep outside quotes and parentheses."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "`'\"":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "`'\"":
        q = name[0]
        return name[1:-1].replace(q + q, q)
    return name


def _privileges(text: str) -> frozenset[str]:
    privileges: set[str] = set()
    for raw in _split_top(text, ","):
        name = " ".join(raw.split()).upper()
        if not name or "(" in name:  # column-level grant: not the whole table
            continue
        privileges.add(ALL if name in ("ALL", ALL) else name)
    return frozenset(privileges)


def parse_grant(line: str) -> Grant | None:
    """One SHOW GRANTS line; None for lines that carry no object privileges (roles, PROXY, SET ...)."""
    stripped = line.strip()
    head = stripped[:7].upper()
    if head.startswith("GRANT "):
        revoke, body_start, target_kw = False, 6, (" TO ",)
    elif head.startswith("REVOKE "):
        revoke, body_start, target_kw = True, 7, (" FROM ",)
    else:
        return None
    on_at, _ = _scan_to(stripped, body_start, (" ON ",))
    if on_at < 0:
        return None  # GRANT `role` TO ...
    to_at, _ = _scan_to(stripped, on_at + 4, target_kw)
    if to_at < 0:
        return None
    privileges = _privileges(stripped[body_start:on_at])
    obj = stripped[on_at + 4:to_at].strip()
    kind = obj.split(None, 1)[0].upper() if obj else ""
    if kind in ("FUNCTION", "PROCEDURE", "PACKAGE", "PACKAGE BODY"):
        return None
    if kind == "TABLE":
        obj = obj[5:].strip()
    if "PROXY" in privileges:
        return None
    parts = [_unquote(p) for p in _split_top(obj, ".")]
    if len(parts) == 1:  # "ON *" or "ON tbl" (relative to a default database): treat "*" as global
        if parts[0] == "*":
            return Grant(privileges, None, None, revoke)
        return None
    database, table = parts[0], parts[1]
    if database == "*":
        return Grant(privileges, None, None, revoke)
    return Grant(privileges, database, None if table == "*" else table, revoke)


def like_pattern(pattern: str) -> re.Pattern[str]:
    """A GRANT database name as a regex: % and _ are wildcards unless escaped with a backslash."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return re.compile("".join(out), re.DOTALL)


def unescape_pattern(pattern: str) -> str:
    """For display: `shop\\_eu` is granted on the database named shop_eu."""
    return re.sub(r"\\(.)", r"\1", pattern)


class Privileges:
    """What the current account may do, by level."""

    def __init__(self, grants: Iterable[Grant]) -> None:
        self.grants = list(grants)

    @classmethod
    def from_show_grants(cls, lines: Iterable[str]) -> Privileges:
        return cls(g for g in (parse_grant(line) for line in lines) if g is not None)

    @staticmethod
    def _has(held: set[str] | frozenset[str], privilege: str) -> bool:
        return privilege in held or ALL in held

    @property
    def global_privileges(self) -> set[str]:
        held: set[str] = set()
        for grant in self.grants:
            if grant.database is None and not grant.revoke:
                held |= grant.privileges
        return held

    def has_global(self, privilege: str) -> bool:
        return self._has(self.global_privileges, privilege)

    def has_any_global(self, names: Iterable[str]) -> bool:
        return any(self.has_global(name) for name in names)

    def _database_level(self, database: str) -> tuple[set[str], set[str]]:
        """Held on every table of database (global plus matching database grants), and partially revoked."""
        held = set(self.global_privileges)
        revoked: set[str] = set()
        for grant in self.grants:
            if grant.database is None or grant.table is not None:
                continue
            if grant.revoke:
                if grant.database == database:  # partial revokes name databases literally
                    revoked |= grant.privileges
            elif like_pattern(grant.database).fullmatch(database):
                held |= grant.privileges
        return held, revoked

    def has_on_database(self, database: str, privilege: str) -> bool:
        held, revoked = self._database_level(database)
        return self._has(held, privilege) and not self._has(revoked, privilege)

    def missing_on_database(self, database: str, privileges: Iterable[str]) -> list[str]:
        return [p for p in privileges if not self.has_on_database(database, p)]

    def databases_with(self, privileges: Iterable[str]) -> list[str]:
        """Database-level grants (as displayed names) that hold every one of privileges."""
        wanted = list(privileges)
        names = []
        for grant in self.grants:
            if grant.revoke or grant.database is None or grant.table is not None:
                continue
            if all(self._has(grant.privileges, p) for p in wanted):
                names.append(unescape_pattern(grant.database))
        return sorted(set(names))

    def tables_with(self, database: str | None, privilege: str) -> list[str]:
        """Table-level grants holding privilege, in database (any database when None)."""
        names = []
        for grant in self.grants:
            if grant.revoke or grant.table is None or grant.database is None:
                continue
            if database is not None and grant.database != database:
                continue
            if self._has(grant.privileges, privilege):
                names.append(f"{grant.database}.{grant.table}")
        return sorted(set(names))
