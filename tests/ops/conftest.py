"""What the operations tests need: Prometheus's own binaries, from the Debian package.

CI (``.ci/run`` sets ``DISPARO_CI=1``) installs the ``prometheus`` package and these tests fail
there without it. On a laptop without Prometheus they are skipped, and the run ends with a line
that says so and how to install it, so a newcomer is told rather than left with a silent "s".
"""

import os
import shutil
from pathlib import Path

import pytest
from ops_paths import INSTALL_HINT

_missing: list[str] = []


def in_ci() -> bool:
    return os.environ.get("DISPARO_CI") == "1"


def prometheus_binary(name: str) -> str:
    """The path of ``promtool`` or ``prometheus``: fail in CI, skip loudly elsewhere."""
    found = shutil.which(name)
    if found is None and Path(f"/usr/bin/{name}").exists():
        found = f"/usr/bin/{name}"  # Debian's package, when /usr/bin is not on the PATH
    if found:
        return found
    if in_ci():
        pytest.fail(f"{INSTALL_HINT}; CI must have it (.ci/run installs it when it runs as root).")
    _missing.append(name)
    pytest.skip(INSTALL_HINT)


@pytest.fixture(scope="session")
def promtool() -> str:
    return prometheus_binary("promtool")


@pytest.fixture(scope="session")
def prometheus() -> str:
    return prometheus_binary("prometheus")


def pytest_terminal_summary(terminalreporter) -> None:
    if _missing:
        terminalreporter.write_line(
            f"NOTE: operations checks skipped. {INSTALL_HINT}, then run "
            "`./scripts/test tests/ops`.",
            yellow=True,
            bold=True,
        )
