"""A PlayCanvas REST API emulator for tests and the demo (loopback only)."""

from .server import Emulator, Faults, Hostile, Recorded, running

__all__ = ["Emulator", "Faults", "Hostile", "Recorded", "running"]
