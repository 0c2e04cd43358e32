"""structlog configured once: JSON lines in production, readable lines in a terminal."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog


def configure_logging(
    fmt: str = "console", level: str = "info", file: TextIO | None = None
) -> None:
    """Configure structlog and the standard library logging it renders through, to stderr or
    to `file` (the demo keeps its log in its folder and the terminal for progress)."""
    out = file or sys.stderr
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: structlog.types.Processor
    if fmt == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=out.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=out, force=True)
    # pymodbus logs every timeout and stray frame; the gateway logs one clear line itself.
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
