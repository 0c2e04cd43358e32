"""PTS: the edge that wires the packages together (settings, logging, the `pts` command)."""

__version__ = "0.1.0"
