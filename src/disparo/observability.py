"""A real Prometheus beside the stack: its configuration, its process, and where to find it.

``disparo dev --observability`` and the end-to-end alert test both use it. Prometheus comes from
the Debian package (``prometheus``, which also brings ``promtool``); it scrapes every service's
``/metrics`` and evaluates ``deploy/prometheus/alerts.yml``, so a person can watch the numbers
move and an alert fire.
"""

import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from disparo.processes import HOST, StackPorts

REPO = Path(__file__).resolve().parents[2]
ALERT_RULES = REPO / "deploy" / "prometheus" / "alerts.yml"
SERVICES = ("campaign-api", "dispatcher", "followup", "reporting")
INSTALL_HINT = (
    "Prometheus is not installed: `sudo apt-get install -y prometheus` (Debian/Ubuntu) provides "
    "`prometheus` and `promtool`"
)


class PrometheusMissing(RuntimeError):
    """The Debian package is not installed; the message says how to install it."""


def find_binary(name: str) -> str | None:
    """``prometheus`` or ``promtool`` on the PATH, or where Debian's package puts it."""
    found = shutil.which(name)
    if found is None and Path(f"/usr/bin/{name}").exists():
        found = f"/usr/bin/{name}"
    return found


def prometheus_config(
    ports: StackPorts, rule_files: list[Path], interval_seconds: float = 5.0
) -> str:
    """The configuration scraping each service as its own job (the job is the service's name,
    which the alert rules and dashboards rely on)."""
    interval = f"{interval_seconds:g}s"
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": service,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [f"{HOST}:{ports_of(ports, service)}"]}],
            }
            for service in SERVICES
        ],
    }
    return json.dumps(config, indent=2)  # JSON is YAML, and needs no YAML writer


def ports_of(ports: StackPorts, service: str) -> int:
    return getattr(ports, service.replace("-", "_"))


@dataclass
class PrometheusServer:
    """One Prometheus process with its configuration and data in ``work_dir``."""

    work_dir: Path
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.work_dir / "prometheus.log"

    def start(self, config: str, timeout_seconds: float = 30.0) -> None:
        binary = find_binary("prometheus")
        if binary is None:
            raise PrometheusMissing(INSTALL_HINT)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        config_file = self.work_dir / "prometheus.yml"
        config_file.write_text(config)
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_file}",
                    f"--storage.tsdb.path={self.work_dir / 'data'}",
                    f"--web.listen-address={HOST}:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(timeout_seconds)

    def _wait_ready(self, timeout_seconds: float) -> None:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"prometheus exited with code {self.process.returncode}; see {self.log_file}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"prometheus not ready within {timeout_seconds}s; see {self.log_file}")

    def stop(self, grace_seconds: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
