"""Where the operations files live, and what to tell someone without Prometheus."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy" / "prometheus"
GRAFANA_DIR = REPO / "deploy" / "grafana"
INSTALL_HINT = (
    "Prometheus is not installed: `sudo apt-get install -y prometheus` (Debian/Ubuntu) provides "
    "`prometheus` and `promtool`"
)
