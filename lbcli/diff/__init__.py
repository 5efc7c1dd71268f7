"""Semantic diff of node plans: pure functions from two plans to a list of typed changes."""

from .change import SECTIONS, Change
from .plans import diff_plan_sets, diff_plans

__all__ = ["SECTIONS", "Change", "diff_plan_sets", "diff_plans"]
