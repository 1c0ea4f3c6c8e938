"""``python -m disparo_console`` serves the console on ``DISPARO_CONSOLE_PORT`` (8080)."""

from disparo_console.app import create_app
from disparo_console.settings import ConsoleSettings
from disparo_shared.runtime import KernelSettings, serve


def main() -> None:
    kernel = KernelSettings()
    settings = ConsoleSettings()
    serve(create_app(kernel, settings), kernel, settings.port)


if __name__ == "__main__":
    main()
