"""Commands that wire several packages together (the edge; each package keeps its own `cli.py`)."""
