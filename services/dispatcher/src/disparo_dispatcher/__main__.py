"""``python -m disparo_dispatcher``: serve the dispatcher on ``DISPARO_DISPATCHER_PORT`` (8002)."""

from disparo_dispatcher.app import create_app
from disparo_dispatcher.settings import DispatcherSettings
from disparo_shared.runtime import KernelSettings, serve


def main() -> None:
    kernel = KernelSettings()
    settings = DispatcherSettings()
    serve(create_app(kernel, settings), kernel, settings.port)


if __name__ == "__main__":
    main()
