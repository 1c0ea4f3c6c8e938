"""A WhatsApp provider simulator speaking the Evolution API and Cloud API dialects."""

from disparo_simulator.app import create_app
from disparo_simulator.settings import SimulatorSettings

__all__ = ["SimulatorSettings", "create_app"]
