import pytest

from lbcli.lint.problem import Severity
from tests.lintkit import by_rule, line_of, lint_text
from tests.rules._podset import config, pod

RULE = "pod-bandwidth"
ON = config(**{"enable-bandwidth-manager": "true"})
EG = "kubernetes.io/egress-bandwidth"


def _run(text):
    report = lint_text(text)
    assert by_rule(report, "schema") == []
    return by_rule(report, RULE)


@pytest.mark.parametrize("value", ["10M", "1Gi", "1k", "1.5M", "1e6", "34G"])
def test_shapeable_values_pass(value):
    assert _run(ON + pod("a", None, annotations={EG: value, "kubernetes.io/ingress-bandwidth": value})) == []


@pytest.mark.parametrize("value,needle", [
    ("10 Mbps", "is not a Kubernetes quantity"), ("999", "below 1k"), ("2P", "above 1P"),
    ("40G", "the most the kernel's HTB/TBF rate"), ("-5M", "below 1k"),
])
def test_bad_values_are_located(value, needle):
    text = ON + pod("a", None, annotations={EG: value})
    [p] = _run(text)
    assert p.severity == Severity.ERROR and needle in p.message
    assert p.line == line_of(text, EG)


def test_annotation_without_bandwidth_manager_warns():
    [p] = _run(pod("a", None, annotations={EG: "10M"}))
    assert p.severity == Severity.WARNING and "enable-bandwidth-manager" in p.message
