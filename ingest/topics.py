"""Readings topics: what an MQTT topic says about who sent a payload and for which meter.

Our broker (root `pts/v1` by default):
    {root}/{gateway_id}/{meter_id}/readings            a gateway (source=gateway)
    {root}/{gateway_id}/_multi/readings                a gateway batch of several meters
    {root}/das/{provider_id}/{meter_id}/readings       a DAS provider (source=das)
A provider's own broker: a template with `{meter_id}` (e.g. `site/{meter_id}/readings`); the
provider is fixed by the connection (its credentials), not by the topic.

`_multi` cannot be a meter id (meter ids start with a letter or digit), nor can `das` be a
gateway id: both are reserved here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ingest.errors import ConfigError, EnvelopeError, ReasonCode
from schemas.ids import is_id
from schemas.reading import Source

MULTI_METER = "_multi"
DAS_LEVEL = "das"
DEFAULT_ROOT = "pts/v1"


@dataclass(frozen=True, slots=True)
class TopicAddress:
    """Who may have sent a message on a topic, and for which meter (None: several meters)."""

    source: Source
    source_id: str
    meter_id: str | None


class TopicScheme(Protocol):
    """Reads a topic into an address; lists the MQTT subscriptions that reach such topics."""

    def parse(self, topic: str) -> TopicAddress: ...

    def subscriptions(self, share_group: str | None) -> list[str]: ...


def _shared(topic_filter: str, share_group: str | None) -> str:
    return f"$share/{share_group}/{topic_filter}" if share_group else topic_filter


def _invalid(topic: str, shape: str) -> EnvelopeError:
    return EnvelopeError(
        ReasonCode.TOPIC_INVALID, f"topic {topic!r} is not a readings topic (expected {shape})"
    )


@dataclass(frozen=True, slots=True)
class OurTopics:
    """The readings topics of our own broker, gateways and DAS providers alike."""

    root: str = DEFAULT_ROOT

    def parse(self, topic: str) -> TopicAddress:
        shape = f"{self.root}/<gateway_id>/<meter_id>/readings"
        prefix = self.root + "/"
        if not topic.startswith(prefix) or not topic.endswith("/readings"):
            raise _invalid(topic, shape)
        levels = topic[len(prefix) : -len("/readings")].split("/")
        if len(levels) == 3 and levels[0] == DAS_LEVEL:
            provider_id, meter_id = levels[1], levels[2]
            if not is_id(provider_id) or not is_id(meter_id):
                raise _invalid(topic, f"{self.root}/das/<provider_id>/<meter_id>/readings")
            return TopicAddress(Source.DAS, provider_id, meter_id)
        if len(levels) != 2 or levels[0] == DAS_LEVEL or not is_id(levels[0]):
            raise _invalid(topic, shape)
        gateway_id, meter = levels
        if meter == MULTI_METER:
            return TopicAddress(Source.GATEWAY, gateway_id, None)
        if not is_id(meter):
            raise _invalid(topic, shape)
        return TopicAddress(Source.GATEWAY, gateway_id, meter)

    def subscriptions(self, share_group: str | None) -> list[str]:
        """Everything under the root: a message on a malformed topic (which the broker lets
        a gateway write under its own prefix) then reaches the bridge and is dead-lettered
        `topic_invalid` instead of being dropped unseen."""
        return [_shared(f"{self.root}/#", share_group)]


@dataclass(frozen=True, slots=True)
class ProviderTopics:
    """A DAS provider's own broker: every message there is that provider's."""

    provider_id: str
    template: str = "pts/v1/das/{provider_id}/{meter_id}/readings"

    def __post_init__(self) -> None:
        if self.template.count("{meter_id}") != 1:
            raise ConfigError(
                f"topic template {self.template!r} must contain {{meter_id}} exactly once"
            )
        if "{meter_id}" not in self.template.split("/"):
            raise ConfigError(
                f"topic template {self.template!r}: {{meter_id}} must be a whole topic level"
            )
        if any(c in self.template for c in "+#"):
            raise ConfigError(f"topic template {self.template!r} must not contain + or #")

    def _filled(self) -> str:
        return self.template.replace("{provider_id}", self.provider_id)

    def parse(self, topic: str) -> TopicAddress:
        before, after = self._filled().split("{meter_id}")
        meter = topic[len(before) : len(topic) - len(after)] if after else topic[len(before) :]
        if (
            not topic.startswith(before)
            or not topic.endswith(after)
            or len(topic) < len(before) + len(after)
            or not is_id(meter)
        ):
            raise _invalid(topic, self._filled())
        return TopicAddress(Source.DAS, self.provider_id, meter)

    def subscriptions(self, share_group: str | None) -> list[str]:
        return [_shared(self._filled().replace("{meter_id}", "+"), share_group)]
