"""Sender administration: credentials only from declared variables, hosts only from a list."""

import pytest

from disparo_dispatcher.providers.base import Rejected
from disparo_dispatcher.providers.cloud import classify_response as cloud_answer
from disparo_dispatcher.providers.evolution import classify_response as evolution_answer
from disparo_dispatcher.providers.transport import ProviderAnswer
from disparo_dispatcher.sender_policy import SenderPolicy, shown_credential

PRODUCTION = SenderPolicy(
    credential_variables=frozenset({"EVOLUTION_RECIFE_KEY"}),
    provider_hosts=frozenset({"graph.facebook.com", "evolution.example.com"}),
    mode="production",
)
DEV = SenderPolicy(
    credential_variables=frozenset({"SIM_EVOLUTION_KEY"}),
    provider_hosts=frozenset({"127.0.0.1"}),
    mode="dev",
)


def problems(policy: SenderPolicy, base_url: str, credential_ref: str, *, seed=False):
    return policy.problems(base_url=base_url, credential_ref=credential_ref, from_settings=seed)


def test_a_declared_credential_on_an_allowed_https_host_passes():
    assert problems(PRODUCTION, "https://evolution.example.com", "env:EVOLUTION_RECIFE_KEY") == []
    assert (
        problems(PRODUCTION, "https://graph.facebook.com/v21.0", "env:EVOLUTION_RECIFE_KEY") == []
    )


@pytest.mark.parametrize("ref", ["env:DATABASE_URL", "env:DISPARO_API_KEY_PEPPER", "env:"])
def test_any_other_variable_is_refused(ref):
    assert [field for field, _ in problems(PRODUCTION, "https://graph.facebook.com", ref)] == [
        "credential_ref"
    ]


def test_a_literal_credential_is_refused_by_the_api_everywhere_and_by_settings_in_production():
    assert (
        problems(PRODUCTION, "https://graph.facebook.com", "EAAG-token")[0][0] == "credential_ref"
    )
    assert problems(DEV, "http://127.0.0.1:8025", "sim-evolution-key")[0][0] == "credential_ref"
    assert problems(DEV, "http://127.0.0.1:8025", "sim-evolution-key", seed=True) == []
    assert problems(PRODUCTION, "https://graph.facebook.com", "EAAG-token", seed=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://attacker.example.net/collect",
        "https://graph.facebook.com.attacker.net",
        "https://evolution.example.com@attacker.net/",
        "http://graph.facebook.com",  # https only outside dev
        "ftp://graph.facebook.com",
        "https://169.254.169.254/latest/meta-data",
        "not a url",
    ],
)
def test_hosts_outside_the_list_or_without_https_are_refused(url):
    found = problems(PRODUCTION, url, "env:EVOLUTION_RECIFE_KEY")
    assert [field for field, _ in found] == ["base_url"], found


def test_dev_allows_plain_http_to_a_listed_host_only():
    assert problems(DEV, "http://127.0.0.1:8025", "env:SIM_EVOLUTION_KEY") == []
    assert problems(DEV, "http://10.0.0.8:8025", "env:SIM_EVOLUTION_KEY")[0][0] == "base_url"


def test_a_literal_credential_is_never_shown():
    assert shown_credential("env:EVOLUTION_RECIFE_KEY") == "env:EVOLUTION_RECIFE_KEY"
    assert "EAAG" not in shown_credential("EAAG-token-123")


@pytest.mark.parametrize("classify", [evolution_answer, cloud_answer])
@pytest.mark.parametrize("status", [200, 401, 500])
def test_a_provider_answer_body_is_never_echoed(classify, status):
    echo = b'{"echo": {"authorization": "Bearer s3cr3t-token"}, "note": "s3cr3t-token"}'
    result = classify(ProviderAnswer(status=status, body=echo))
    assert isinstance(result, Rejected)
    assert "s3cr3t" not in result.detail
