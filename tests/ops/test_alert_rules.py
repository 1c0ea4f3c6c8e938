"""The alert rules in deploy/prometheus are valid and behave as their unit tests say."""

import subprocess

from ops_paths import PROMETHEUS_DIR


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=PROMETHEUS_DIR, capture_output=True, text=True, timeout=300)


def test_promtool_checks_the_alert_rules(promtool: str) -> None:
    result = run(promtool, "check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_every_alert_pass(promtool: str) -> None:
    result = run(promtool, "test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_has_a_firing_case_and_a_runbook_in_the_readme() -> None:
    import yaml

    rules = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())
    readme = (PROMETHEUS_DIR.parents[1] / "README.md").read_text()
    fired = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for test in tests["tests"]
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    for group in rules["groups"]:
        for rule in group["rules"]:
            name = rule["alert"]
            assert name in fired, f"{name} has no case where it fires"
            assert name in silent, f"{name} has no case before its 'for' elapses"
            assert rule["labels"]["severity"] in {"page", "ticket"}
            anchor = rule["annotations"]["runbook_url"].split("#", 1)[1]
            assert f"### {name}" in readme and anchor == name.lower(), name
