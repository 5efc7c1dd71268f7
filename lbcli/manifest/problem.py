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
    field: str | None = None  # field path (`spec.port`) of a finding on an object with no file

    def sort_key(self) -> tuple:
        if not self.file:  # a cluster object: by object, then field
            return ("", 0, 0, self.resource or "", self.field or "", self.rule, self.message)
        return (self.file, self.line, self.column, self.rule, self.message)

    @property
    def where(self) -> str:
        """`file:line:col`, or for an object read from a cluster `Kind/ns/name field.path`."""
        if self.file:
            return f"{self.file}:{self.line}:{self.column}"
        return f"{self.resource or '?'} {self.field or ''}".rstrip()

    def to_dict(self) -> dict:
        d = {
            "file": self.file or None,  # null: an object read from a cluster (see "field")
            "line": self.line if self.file else None,
            "column": self.column if self.file else None,
            "severity": self.severity.label,
            "rule": self.rule,
            "message": self.message,
        }
        if self.resource:
            d["resource"] = self.resource
        if self.field is not None:
            d["field"] = self.field
        return d
