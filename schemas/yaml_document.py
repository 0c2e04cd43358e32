"""YAML documents read with bounds: size, nesting depth and node count checked on the parser's
event stream before anything is built, aliases refused (pure: text in, data or a refusal out).

PyYAML builds nested nodes recursively: 100,000 nested brackets raise RecursionError (no YAML
error), and aliases of aliases ("billion laughs") make a few lines stand for millions of
values that validation then walks for minutes. The event stream is produced without
recursion, so counting on it first is safe. Configuration and registry files need neither
deep nesting nor aliases. Used by the register maps and gateway configuration (gateways/)
and `pts registry load` (certification/).
"""

from __future__ import annotations

from typing import Any

import yaml

# libyaml when PyYAML was built with it (about 10x faster), else the pure-Python loader
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_BYTES = 16 * 1024 * 1024  # a registry of ~100,000 systems
MAX_DEPTH = 32  # nested mappings and sequences
MAX_NODES = 2_000_000  # scalars, mappings and sequences


class YamlRefused(ValueError):
    """A YAML text refused before it was built; the message says what and where."""


def load_yaml(
    text: str | bytes,
    what: str = "YAML document",
    max_bytes: int = MAX_BYTES,
    max_depth: int = MAX_DEPTH,
    max_nodes: int = MAX_NODES,
) -> Any:
    """The data of one YAML document (safe types only), or YamlRefused saying why."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > max_bytes:
        raise YamlRefused(f"{what} is {size:,} bytes; at most {max_bytes:,} are read")
    depth = nodes = 0
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            if isinstance(event, yaml.AliasEvent):
                raise YamlRefused(
                    f"{what}: aliases (*{event.anchor}) are not accepted; write the values out"
                    f" ({_where(event)})"
                )
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    raise YamlRefused(
                        f"{what} nests deeper than {max_depth} levels ({_where(event)})"
                    )
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > max_nodes:
                    raise YamlRefused(f"{what} has more than {max_nodes:,} values")
        return yaml.load(text, Loader=_LOADER)  # a safe loader: C or Python
    except yaml.YAMLError as exc:
        raise YamlRefused(f"{what} is not valid YAML: {_one_line(exc)}") from None
    except (RecursionError, ValueError, OverflowError) as exc:
        if isinstance(exc, YamlRefused):
            raise
        # a scalar the safe loader cannot turn into its type (e.g. a date like 2026-02-30)
        raise YamlRefused(f"{what} holds a value that cannot be read: {exc}") from None


def _where(event: yaml.Event) -> str:
    mark = event.start_mark
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "position unknown"


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())[:500]
