"""Problem and Severity live in the manifest layer (lbcli/manifest/problem.py): the loader
reports with them and must not import lint. Lint rules keep importing them from here."""

from ..manifest.problem import Problem, Severity

__all__ = ["Problem", "Severity"]
