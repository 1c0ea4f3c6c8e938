"""The secrets `disparo dev`, the tests and the benchmarks use, printed here on purpose.

They are public, so production refuses every one of them (``secrets.require_secrets``). The dev
stack, the test fixtures and the benchmarks put ``DEV_ENVIRONMENT`` into the environment of the
processes they start; nothing else does, and no setting defaults to any of these values.
"""

import json

DEV_API_KEY = "dev-key"
TEST_API_KEY = "test-key"
SIM_EVOLUTION_KEY = "sim-evolution-key"
SIM_CLOUD_TOKEN = "sim-cloud-token"
SIM_APP_SECRET = "sim-app-secret"
DEV_VERIFY_TOKEN = "disparo-verify"
DEV_PHONE_DIGEST_KEY = "dev-phone-digest-key"

KNOWN_DEV_SECRETS = frozenset(
    {
        DEV_API_KEY,
        TEST_API_KEY,
        SIM_EVOLUTION_KEY,
        SIM_CLOUD_TOKEN,
        SIM_APP_SECRET,
        DEV_VERIFY_TOKEN,
        DEV_PHONE_DIGEST_KEY,
    }
)

DEV_ENVIRONMENT: dict[str, str] = {
    "DISPARO_ENV": "dev",
    "DISPARO_API_KEYS": json.dumps([DEV_API_KEY]),
    "DISPARO_DISPATCHER_EVOLUTION_WEBHOOK_KEY": SIM_EVOLUTION_KEY,
    "DISPARO_DISPATCHER_CLOUD_APP_SECRET": SIM_APP_SECRET,
    "DISPARO_DISPATCHER_CLOUD_VERIFY_TOKEN": DEV_VERIFY_TOKEN,
    "DISPARO_PHONE_DIGEST_KEY": DEV_PHONE_DIGEST_KEY,
    # The simulator's tokens are the only provider credentials, and it listens on loopback.
    "DISPARO_DISPATCHER_CREDENTIAL_VARIABLES": json.dumps(["SIM_EVOLUTION_KEY", "SIM_CLOUD_TOKEN"]),
    "DISPARO_DISPATCHER_PROVIDER_HOSTS": json.dumps(["127.0.0.1", "localhost"]),
}
