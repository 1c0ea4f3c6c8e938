"""``python -m disparo_followup`` serves health, metrics and the admin API
and runs the daily job.
"""

from disparo_followup.app import create_app
from disparo_followup.settings import FollowupSettings
from disparo_shared.runtime import KernelSettings, serve


def main() -> None:
    kernel = KernelSettings()
    settings = FollowupSettings()
    serve(create_app(kernel, settings), kernel, settings.port)


if __name__ == "__main__":
    main()
