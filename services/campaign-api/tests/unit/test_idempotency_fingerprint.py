"""Idempotency keys and fingerprints: canonical bodies, validated keys."""

import pytest

from disparo_campaign_api.idempotency import check_key, fingerprint, require_key
from disparo_shared.problems import Problem


def test_fingerprint_ignores_key_order_but_not_values():
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})


@pytest.mark.parametrize("key", ["", "x" * 256, "chave-ção", "a\tb"])
def test_bad_keys_are_422_naming_the_header(key):
    with pytest.raises(Problem) as caught:
        check_key(key)
    assert caught.value.status_code == 422
    assert caught.value.errors[0]["field"] == "header.Idempotency-Key"


def test_required_key():
    assert check_key(None) is None
    assert require_key("550e8400-e29b-41d4-a716-446655440000")
    with pytest.raises(Problem):
        require_key(None)
