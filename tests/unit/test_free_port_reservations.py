"""A port handed out is reserved for the process that asked, machine-wide, while it lives."""

import os
import subprocess
import sys

from disparo.embedded import free_port


def _offers(*ports: int):
    offered = iter(ports)
    return lambda _host: next(offered)


def test_a_port_another_live_process_was_handed_is_passed_over(tmp_path):
    (tmp_path / "40001").write_text(str(os.getppid()))  # a live process holds it
    assert free_port(pick=_offers(40001, 40002), reservations=tmp_path) == 40002
    assert (tmp_path / "40002").read_text() == str(os.getpid())


def test_the_same_process_is_never_handed_one_port_twice(tmp_path):
    first = free_port(pick=_offers(40011), reservations=tmp_path)
    second = free_port(pick=_offers(40011, 40012), reservations=tmp_path)
    assert (first, second) == (40011, 40012)


def test_a_port_whose_process_is_gone_is_taken_over(tmp_path):
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    (tmp_path / "40021").write_text(gone.stdout.strip())
    assert free_port(pick=_offers(40021, 40021), reservations=tmp_path) == 40021
