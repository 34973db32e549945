"""How to reach a datasource. The password never appears in repr, str or logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ConnectionConfig:
    engine: str
    host: str
    port: int
    user: str = ""
    password: str = field(default="", repr=False)
    database: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    connect_timeout: float = 5.0

    def __str__(self) -> str:
        return f"{self.engine}://{self.user}@{self.host}:{self.port}/{self.database}"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ConnectionConfig:
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown connection field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    def to_dict(self, *, with_password: bool = False) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        if not with_password:
            data.pop("password")
        return data
