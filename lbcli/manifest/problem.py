"""The finding type every rule, the loader and every renderer share (after yamllint's LintProblem)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: str) -> "Severity":
        try:
            return cls[value.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {value!r} (use error, warning or info)") from None


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int  # 1-based
    column: int  # 1-based
    severity: Severity
    rule: str
    message: str
    resource: str | None = None  # Kind/namespace/name
    doc: int | None = None  # 0-based document index in the file

    def sort_key(self) -> tuple:
        return (self.file, self.line, self.column, self.rule, self.message)

    def to_dict(self) -> dict:
        d = {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": self.severity.label,
            "rule": self.rule,
            "message": self.message,
        }
        if self.resource:
            d["resource"] = self.resource
        return d
