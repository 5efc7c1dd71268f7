"""Each lint rule declares its options; `.cilium-lb.yaml` is checked against the declarations."""

from __future__ import annotations

import pytest

from lbcli.lint.config import ConfigError, load_config


def _load(tmp_path, text):
    p = tmp_path / ".cilium-lb.yaml"
    p.write_text(text)
    return load_config(str(p))


def test_a_misspelt_option_is_a_config_error_naming_option_and_rule(tmp_path):
    with pytest.raises(ConfigError) as e:
        _load(tmp_path, "rules:\n  cert-expiry: {dayz: 30}\n")
    msg = str(e.value)
    assert "'dayz'" in msg and "cert-expiry" in msg and "did you mean 'days'" in msg


@pytest.mark.parametrize("value, words", [("'30'", "expected an integer"), ("-1", ">= 0"), ("true", "bool")])
def test_an_ill_typed_option_is_a_config_error(tmp_path, value, words):
    with pytest.raises(ConfigError, match=words):
        _load(tmp_path, f"rules:\n  cert-expiry: {{days: {value}}}\n")


def test_a_rule_without_options_refuses_any(tmp_path):
    with pytest.raises(ConfigError, match="takes: no options besides severity"):
        _load(tmp_path, "rules:\n  selector-match: {threshold: 3}\n")


def test_declared_options_load(tmp_path):
    cfg = _load(tmp_path, "rules:\n  cert-expiry: {severity: error, days: 10}\n"
                          "  healthcheck-timeout: {max-detection-seconds: 120}\n")
    assert cfg.options == {"cert-expiry": {"days": 10}, "healthcheck-timeout": {"max-detection-seconds": 120}}


def test_every_declared_option_default_passes_its_own_check():
    from lbcli.lint.registry import rules

    for r in rules():
        for name, opt in getattr(r.module, "OPTIONS", {}).items():
            assert opt.check(opt.default) is None, (r.id, name)
