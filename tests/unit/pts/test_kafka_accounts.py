"""The components' Kafka ACLs and the client config built from settings (pure parts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pts.kafka_accounts import (
    ADMIN,
    BRIDGE,
    DAS_INTAKE,
    WORKER,
    Acl,
    Operation,
    Resource,
    component_acls,
    stale_acls,
)
from pts.kafka_config import KafkaConfigError, KafkaConnection, kafka_connection
from pts.settings import Settings


def allowed(principal: str) -> set[tuple[str, str, str, str]]:
    return {
        (a.resource.name, a.name, a.operation.name, a.pattern.name)
        for a in component_acls("readings.raw", "readings.dead-letter")
        if a.principal == principal
    }


def test_producers_may_only_write_and_describe_the_two_topics() -> None:
    """The bridge and the DAS intake write readings and dead letters; they read nothing."""
    want = {
        ("TOPIC", t, op, "LITERAL")
        for t in ("readings.raw", "readings.dead-letter")
        for op in ("WRITE", "DESCRIBE")
    } | {("CLUSTER", "kafka-cluster", "IDEMPOTENT_WRITE", "LITERAL")}
    assert allowed(BRIDGE) == want
    assert allowed(DAS_INTAKE) == want


def test_worker_reads_readings_and_writes_only_dead_letters_and_its_own_topics() -> None:
    """No write on readings.raw; its group and Faust's topics by the pts-stream prefix."""
    acls = allowed(WORKER)
    assert ("TOPIC", "readings.raw", "WRITE", "LITERAL") not in acls
    assert ("TOPIC", "readings.raw", "READ", "LITERAL") in acls
    assert ("TOPIC", "readings.dead-letter", "WRITE", "LITERAL") in acls
    assert ("GROUP", "pts-stream", "READ", "PREFIXED") in acls
    assert {a for a in acls if a[3] == "PREFIXED"} == {
        ("GROUP", "pts-stream", "READ", "PREFIXED"),
        ("GROUP", "pts-stream", "DESCRIBE", "PREFIXED"),
        *(
            ("TOPIC", "pts-stream", op, "PREFIXED")
            for op in ("READ", "WRITE", "CREATE", "DESCRIBE")
        ),
    }


def test_sasl_settings_read_the_password_from_its_file(tmp_path: Path) -> None:
    """PTS_KAFKA_PASSWORD_FILE's first line is the password; it never shows in describe()."""
    secret = tmp_path / "pts-bridge"
    secret.write_text("s3cret\n")
    connection = kafka_connection(
        Settings(
            kafka_bootstrap="b:9094",
            kafka_security_protocol="SASL_SSL",
            kafka_username="pts-bridge",
            kafka_password_file=secret,
        )
    )
    kwargs = connection.client_kwargs()
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == (
        "pts-bridge",
        "s3cret",
    )
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kwargs["security_protocol"] == "SASL_SSL"
    assert connection.describe() == "b:9094 (SASL_SSL as pts-bridge)"
    assert "s3cret" not in repr(connection)


def test_sasl_without_a_username_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(KafkaConfigError, match="needs PTS_KAFKA_USERNAME"):
        kafka_connection(Settings(kafka_security_protocol="SASL_SSL", local_dir=tmp_path))
    with pytest.raises(KafkaConfigError, match="cannot read the Kafka password of pts-worker"):
        kafka_connection(
            Settings(
                kafka_security_protocol="SASL_SSL", kafka_username="pts-worker", local_dir=tmp_path
            )
        )


def test_plaintext_has_no_security_arguments() -> None:
    assert KafkaConnection("h:1").client_kwargs() == {
        "bootstrap_servers": "h:1",
        "security_protocol": "PLAINTEXT",
    }


def test_stale_acls_are_the_managed_principals_rules_no_longer_wanted() -> None:
    """A renamed topic's rules go; the cluster and prefix rules both lists hold stay; rules of
    pts-admin and of principals not ours are never stale."""
    old = component_acls("old.raw", "old.dead")
    new = component_acls("readings.raw", "readings.dead-letter")
    foreign = [
        Acl("someone", Resource.TOPIC, "old.raw", Operation.READ),
        Acl(ADMIN, Resource.TOPIC, "old.raw", Operation.WRITE),
    ]
    stale = stale_acls([*old, *new, *foreign], new)
    assert stale == sorted(set(old) - set(new), key=Acl.describe)
    assert {a.name for a in stale} == {"old.raw", "old.dead"}
    assert {a.principal for a in stale} == {BRIDGE, DAS_INTAKE, WORKER}
    assert stale_acls(new, new) == []
