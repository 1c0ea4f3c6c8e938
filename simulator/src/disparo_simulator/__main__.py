"""Runs the simulator: ``python -m disparo_simulator`` (or ``disparo-simulator``).

Address and behaviour come from ``SIM_*`` environment variables; ``--host`` and ``--port``
override ``SIM_HOST`` and ``SIM_PORT``.
"""

import argparse
import gc

import uvicorn

from disparo_simulator.app import create_app
from disparo_simulator.settings import SimulatorSettings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="WhatsApp provider simulator (Evolution + Cloud).")
    parser.add_argument("--host", help="interface to listen on (default: SIM_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default: SIM_PORT or 8025)")
    args = parser.parse_args(argv)
    overrides = {name: value for name, value in vars(args).items() if value is not None}
    settings = SimulatorSettings(**overrides)
    # As in every disparo service (disparo_shared.runtime.tune_garbage_collector): under load
    # the cyclic collector's passes over everything loaded at start cost more than serving.
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        access_log=False,
        log_level="info",
    )


if __name__ == "__main__":
    main()
