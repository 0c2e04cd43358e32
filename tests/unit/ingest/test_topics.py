"""Readings topics → who sent it and for which meter."""

from __future__ import annotations

import pytest

from ingest.errors import ConfigError, EnvelopeError, ReasonCode
from ingest.topics import OurTopics, ProviderTopics, TopicAddress
from schemas.reading import Source


def test_gateway_topic() -> None:
    """A gateway topic names the gateway and the meter."""
    assert OurTopics().parse("pts/v1/gw-1/m-7/readings") == TopicAddress(
        Source.GATEWAY, "gw-1", "m-7"
    )


def test_gateway_multi_meter_topic() -> None:
    """`_multi` in the meter level means a batch of several meters."""
    assert OurTopics().parse("pts/v1/gw-1/_multi/readings") == TopicAddress(
        Source.GATEWAY, "gw-1", None
    )


def test_das_topic() -> None:
    """A DAS provider's topic on our broker names the provider and the meter."""
    assert OurTopics().parse("pts/v1/das/acme/m-7/readings") == TopicAddress(
        Source.DAS, "acme", "m-7"
    )


def test_custom_root() -> None:
    """The root is configurable (tests run under test/<id>)."""
    assert OurTopics("test/abc").parse("test/abc/gw-2/m-1/readings") == TopicAddress(
        Source.GATEWAY, "gw-2", "m-1"
    )


@pytest.mark.parametrize(
    "topic",
    [
        "pts/v1/gw-1/m-7/status",
        "pts/v2/gw-1/m-7/readings",
        "pts/v1/das/m-7/readings",
        "pts/v1/gw-1/x/m-7/readings",
        "pts/v1/_gw/m-7/readings",
        "pts/v1/das/acme/_multi/readings",
    ],
)
def test_not_a_readings_topic(topic: str) -> None:
    """Other shapes are refused with topic_invalid (`das` is not a gateway id)."""
    with pytest.raises(EnvelopeError) as info:
        OurTopics().parse(topic)
    assert info.value.code is ReasonCode.TOPIC_INVALID


def test_our_subscriptions_shared() -> None:
    """The bridge subscribes to everything under the root through a shared subscription (a
    malformed topic is then dead-lettered, not dropped unseen)."""
    assert OurTopics().subscriptions("bridge") == ["$share/bridge/pts/v1/#"]
    assert OurTopics().subscriptions(None) == ["pts/v1/#"]


def test_provider_template() -> None:
    """On a provider's own broker the provider comes from the connection, the meter from the
    topic."""
    scheme = ProviderTopics("acme", "site/{meter_id}/readings")
    assert scheme.parse("site/m-3/readings") == TopicAddress(Source.DAS, "acme", "m-3")
    assert scheme.subscriptions(None) == ["site/+/readings"]
    with pytest.raises(EnvelopeError) as info:
        scheme.parse("site/m-3/other")
    assert info.value.code is ReasonCode.TOPIC_INVALID


def test_provider_default_template() -> None:
    """By default a provider's broker uses our DAS topic shape."""
    scheme = ProviderTopics("acme")
    assert scheme.parse("pts/v1/das/acme/m-3/readings") == TopicAddress(Source.DAS, "acme", "m-3")
    assert scheme.subscriptions("g") == ["$share/g/pts/v1/das/acme/+/readings"]


@pytest.mark.parametrize("template", ["site/readings", "site/m{meter_id}/x", "a/+/{meter_id}"])
def test_bad_templates(template: str) -> None:
    """A template needs {meter_id} as one whole level and no wildcards."""
    with pytest.raises(ConfigError):
        ProviderTopics("acme", template)
