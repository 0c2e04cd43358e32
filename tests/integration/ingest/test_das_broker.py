"""DAS providers on MQTT: the ACL generated from the registry, enforced by a real Mosquitto;
and a provider's own broker bridged into Kafka with the provider's credentials."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from click.testing import CliRunner
from paho.mqtt.enums import CallbackAPIVersion

from ingest.bridge import Bridge, MqttSource
from ingest.broker_admin import BrokerAdmin
from ingest.das.credentials import set_mqtt_password
from ingest.kafka_sink import KafkaSink, KafkaTarget
from ingest.topics import ProviderTopics
from pts.cli import cli
from schemas.reading import Source
from schemas.registry import DasProvider
from storage import registry_store
from tests.broker_accounts import admin_credentials
from tests.integration.ingest.support import (
    TEST_USER,
    OwnMosquitto,
    Publisher,
    consume,
    unique,
    wait_for,
)
from tests.support import register_fleet
from tests.unit.ingest.batches import batch_json, make_batch

pytestmark = pytest.mark.integration


def _publish_results(port: int, user: tuple[str, str], topics: list[str]) -> list[str]:
    """PUBACK reason of each QoS 1 publish (MQTT 5 says 'Not authorized' when the ACL refuses)."""
    results: dict[int, str] = {}
    done = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=unique("p"), protocol=mqtt.MQTTv5)
    client.username_pw_set(*user)

    def on_publish(c: Any, u: Any, mid: int, rc: Any, props: Any) -> None:
        results[mid] = str(rc)
        if len(results) == len(topics):
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        mids = [client.publish(t, b"{}", qos=1).mid for t in topics]
        assert done.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()
    return [results[mid] for mid in mids]


def test_provider_cannot_write_another_providers_meter(fresh_db: str, tmp_path: Path) -> None:
    """Passwords set on the broker, roles applied by `pts das acl` from the registry: the
    broker refuses acme writing solarco's meter (and acme posing as a gateway), and accepts
    each provider on its own meters; the database keeps no password."""
    providers = [
        DasProvider(provider_id="acme", name="Acme", approved=True, mqtt_username="das-acme"),
        DasProvider(
            provider_id="solarco", name="SolarCo", approved=True, mqtt_username="das-solar"
        ),
    ]
    broker = OwnMosquitto(tmp_path)
    broker.start(accounts=False)
    try:
        with psycopg.connect(fresh_db) as conn:
            register_fleet(conn, ["a-1", "a-2"], provider="acme")
            register_fleet(conn, ["s-1"], provider="solarco")
            registry_store.upsert(conn, providers)
            with BrokerAdmin.connect(admin_credentials(broker.port, broker.local_dir)) as admin:
                acme_pw = set_mqtt_password(conn, admin, "acme")
                solar_pw = set_mqtt_password(conn, admin, "solarco")
            columns = {
                r[0]
                for r in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'das_mqtt_passwords'"
                )
            }
            assert "password" not in columns
        # a meter registered after the passwords were set reaches the broker with `das acl`
        with psycopg.connect(fresh_db) as conn:
            register_fleet(conn, ["a-3"], provider="acme")
            registry_store.upsert(conn, providers)  # register_fleet wrote a bare provider
        env = {
            "PTS_DATABASE_URL": fresh_db,
            "PTS_LOCAL_DIR": str(broker.local_dir),
            "PTS_MQTT_PORT": str(broker.port),
        }
        result = CliRunner().invoke(cli, ["das", "acl"], env=env)
        assert result.exit_code == 0, result.output
        assert result.output.endswith("applied to the broker for 2 provider(s)\n")
        assert "acme: das-acme may publish 3 meter(s)" in result.output
        state = (broker.dir / "dynsec.json").read_text()
        assert acme_pw not in state
        assert solar_pw not in state
        acme = _publish_results(
            broker.port,
            ("das-acme", acme_pw),
            [
                "pts/v1/das/solarco/s-1/readings",
                "pts/v1/das/acme/s-1/readings",
                "pts/v1/das-acme/a-1/readings",
                "pts/v1/das/acme/a-1/readings",
                "pts/v1/das/acme/a-2/readings",
                "pts/v1/das/acme/a-3/readings",
            ],
        )
        solar = _publish_results(
            broker.port,
            ("das-solar", solar_pw),
            ["pts/v1/das/solarco/s-1/readings", "pts/v1/das/acme/a-1/readings"],
        )
    finally:
        broker.stop()
    ok = "No matching subscribers"  # accepted; nobody subscribed in this test
    assert acme == ["Not authorized", "Not authorized", "Not authorized", ok, ok, ok]
    assert solar == [ok, "Not authorized"]


async def test_provider_broker_bridged_into_kafka(
    tmp_path: Path, kafka_bootstrap: str, kafka_target: KafkaTarget
) -> None:
    """A provider's own broker (a second Mosquitto), read with the provider's credentials and
    its topic template: its batches land in Kafka; another source's batch is dead-lettered."""
    broker = OwnMosquitto(tmp_path)
    broker.start()
    target = kafka_target
    sink = KafkaSink(target)
    await sink.start()
    try:
        scheme = ProviderTopics("acme", "test/site/{meter_id}/readings")
        source = MqttSource(
            "127.0.0.1", broker.port, unique("das"), scheme, *TEST_USER, share_group=None
        )
        bridge = Bridge(source, sink)
        stop = asyncio.Event()
        task = asyncio.create_task(bridge.run(stop))
        await wait_for(bridge.subscribed)
        good = [
            batch_json(make_batch([m], Source.DAS, "acme", batch_id=f"b-{m}"))
            for m in ("a-1", "a-2")
        ]
        other = batch_json(make_batch(["a-1"], Source.DAS, "solarco"))
        publisher = Publisher("127.0.0.1", broker.port)
        publisher.publish_all(
            [
                ("test/site/a-1/readings", good[0]),
                ("test/site/a-1/readings", other),
                ("test/site/a-2/readings", good[1]),
            ]
        )
        publisher.close()
        records = await consume(kafka_bootstrap, target.readings_topic, 2)
        dead = await consume(kafka_bootstrap, target.dead_letter_topic, 1, timeout_s=60)
        stop.set()
        await task
    finally:
        await sink.stop()
        broker.stop()
    assert sorted((r.key, r.value) for r in records) == [(b"a-1", good[0]), (b"a-2", good[1])]
    [letter] = dead
    assert dict(letter.headers)["reason_code"] == b"topic_mismatch"
    assert letter.value == other
