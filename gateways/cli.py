"""The gateway package's commands: `pts gateway …` and `pts simulate …`."""

from gateways.agent_cli import gateway
from gateways.simulator.cli import simulate

__all__ = ["gateway", "simulate"]
