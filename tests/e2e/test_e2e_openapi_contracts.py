"""Every service's OpenAPI tells the truth: schemathesis runs over each running service with all
its checks, and prints how many cases it generated.

The services are the real processes of the e2e stack (real Postgres, NATS and simulator), found
through ``SERVICES`` and their own ``/schema/openapi.json``, so a route any stream adds is
tested with no change here. ``tests/contracts/schemathesis.toml`` turns every check on, keeps
the run short (a fixed seed, a few examples per operation) and lists, per operation, the answers
a schema does not yet express, each with its reason; anything else a check finds fails here.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from disparo.observability import SERVICES
from disparo_shared.testing.fixtures import TEST_API_KEY

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).resolve().parents[1] / "contracts" / "schemathesis.toml"
_GENERATED = re.compile(r"(\d+) generated")


def run_schemathesis(url: str, workdir: Path) -> tuple[int, int, str]:
    """(exit code, cases generated, output) of one run of the schemathesis CLI over ``url``."""
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            f"--config-file={CONFIG}",
            "--no-color",
            "run",
            f"{url}/schema/openapi.json",
            f"--header=X-API-Key: {TEST_API_KEY}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=workdir,
    )
    output = result.stdout + result.stderr
    generated = _GENERATED.search(output)
    return result.returncode, int(generated.group(1)) if generated else 0, output


@pytest.mark.timeout(900)  # campaign-api's ~1,500 cases take minutes on a loaded 2-core box
@pytest.mark.parametrize("service", SERVICES)
def test_schemathesis_finds_nothing_the_openapi_does_not_say(stack, service, tmp_path) -> None:
    code, generated, output = run_schemathesis(stack.ports.url(service), tmp_path)
    print(f"schemathesis {service}: {generated} cases generated")
    assert generated > 0, output
    assert code == 0, output
