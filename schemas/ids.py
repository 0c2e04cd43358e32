"""Identities, one definition each: meter, system and gateway ids (registry ids, topic levels,
broker usernames) and DAS provider ids.

Every package checks an id here: pydantic fields use the annotated types, hot paths
(the bridge's topic and envelope checks) call `is_id`.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field

ID_MAX_LENGTH = 64
# letters, digits, '.', '_' or '-', starting with a letter or digit (an MQTT topic level,
# a Kafka key and a broker username as they are)
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
# a DAS provider id also names its topic namespace and broker account: lower case, no '.'
PROVIDER_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

_ID = re.compile(ID_PATTERN)


def is_id(value: str) -> bool:
    """Whether `value` is a valid meter, system or gateway id."""
    return 0 < len(value) <= ID_MAX_LENGTH and _ID.match(value) is not None


def _id_type(what: str, pattern: str = ID_PATTERN) -> Any:
    return Field(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=pattern,
        description=f"{what}: letters, digits, '.', '_' or '-' (at most {ID_MAX_LENGTH})",
    )


MeterId = Annotated[str, _id_type("registry id of the meter")]
SystemId = Annotated[str, _id_type("registry id of the system")]
GatewayId = Annotated[str, _id_type("id of the gateway (its broker username)")]
ProviderId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=ID_MAX_LENGTH,
        pattern=PROVIDER_ID_PATTERN,
        description="id of the DAS provider: lower-case letters, digits, '_' or '-'",
    ),
]
