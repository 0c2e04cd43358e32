"""Kafka principals and ACLs: one principal per component, each allowed only its own work.

    principal        may
    pts-bridge       write and describe readings.raw and the dead-letter topic (idempotent)
    pts-das-intake   the same
    pts-worker       read readings.raw; read and write the dead-letter topic; its consumer
                     groups and Faust's own topics (both named after the app id, prefix
                     `pts-stream`)
    pts-admin        everything (a super user in the broker's configuration): `pts kafka
                     topics`, `pts kafka accounts`, `pts stream status`

`pts kafka accounts` sets each principal's SCRAM-SHA-512 credential from its password file
and writes the ACLs for the topics in the settings; it must itself connect as a super user
(pts-admin, or the local broker's loopback PLAINTEXT listener). aiokafka has no admin call for
either request, so the two Kafka requests (AlterUserScramCredentials v0, CreateAcls v1) are
built here from aiokafka's protocol types; the salted password is computed here (RFC 5802),
so the password itself never leaves this process.

It converges: after writing the wanted ACLs it lists the ACLs of the components' principals
(pts-bridge, pts-das-intake, pts-worker: `MANAGED`) and deletes the ones the settings no
longer want (a renamed topic, a changed prefix), `stale_acls`. Only the kind it writes is
removed: ALLOW rules for any host (`*`) of those three principals. Any other principal's
ACLs, a DENY rule, or a rule for one host are never touched (pts-admin is a super user and
needs none).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (
    Array,
    CompactArray,
    CompactBytes,
    CompactString,
    Int8,
    Int16,
    Int32,
    Schema,
    String,
    TaggedFields,
)

from pts.kafka_config import KafkaConnection

BRIDGE, DAS_INTAKE, WORKER, ADMIN = "pts-bridge", "pts-das-intake", "pts-worker", "pts-admin"
PRINCIPALS = (ADMIN, BRIDGE, DAS_INTAKE, WORKER)
MANAGED = (BRIDGE, DAS_INTAKE, WORKER)  # whose ACLs `pts kafka accounts` writes and prunes
WORKER_PREFIX = "pts-stream"  # the worker's app id (consumer group) and Faust's own topics
SCRAM_ITERATIONS = 8192
SCRAM_SHA_512 = 2  # Kafka's ScramMechanism id


class KafkaAccountsError(Exception):
    """The broker refused a credential or an ACL (the message says which)."""


class Resource(IntEnum):
    """Kafka's ResourceType ids (every one, so any ACL the broker lists reads back)."""

    UNKNOWN = 0
    ANY = 1  # in a filter only
    TOPIC = 2
    GROUP = 3
    CLUSTER = 4
    TRANSACTIONAL_ID = 5
    DELEGATION_TOKEN = 6
    USER = 7


class Pattern(IntEnum):
    UNKNOWN = 0
    ANY = 1  # in a filter only
    MATCH = 2  # in a filter only
    LITERAL = 3
    PREFIXED = 4


class Operation(IntEnum):
    UNKNOWN = 0
    ANY = 1  # in a filter only
    ALL = 2
    READ = 3
    WRITE = 4
    CREATE = 5
    DELETE = 6
    ALTER = 7
    DESCRIBE = 8
    CLUSTER_ACTION = 9
    DESCRIBE_CONFIGS = 10
    ALTER_CONFIGS = 11
    IDEMPOTENT_WRITE = 12
    CREATE_TOKENS = 13
    DESCRIBE_TOKENS = 14


ANY_PERMISSION, ALLOW = 1, 3
ANY_HOST = "*"


@dataclass(frozen=True, slots=True)
class Acl:
    """One allow rule: `principal` may `operation` on the resource."""

    principal: str
    resource: Resource
    name: str
    operation: Operation
    pattern: Pattern = Pattern.LITERAL

    def describe(self) -> str:
        how = "prefix " if self.pattern is Pattern.PREFIXED else ""
        return (
            f"{self.principal}: {self.operation.name.lower()} "
            f"{self.resource.name.lower()} {how}{self.name}"
        )


def component_acls(readings_topic: str, dead_letter_topic: str) -> list[Acl]:
    """The ACLs of every component (pure: the table in the module docstring)."""
    acls: list[Acl] = []
    for producer in (BRIDGE, DAS_INTAKE):
        for topic in (readings_topic, dead_letter_topic):
            acls += [
                Acl(producer, Resource.TOPIC, topic, Operation.WRITE),
                Acl(producer, Resource.TOPIC, topic, Operation.DESCRIBE),
            ]
        acls.append(Acl(producer, Resource.CLUSTER, "kafka-cluster", Operation.IDEMPOTENT_WRITE))
    acls += [
        Acl(WORKER, Resource.TOPIC, readings_topic, Operation.READ),
        Acl(WORKER, Resource.TOPIC, readings_topic, Operation.DESCRIBE),
        Acl(WORKER, Resource.TOPIC, dead_letter_topic, Operation.READ),
        Acl(WORKER, Resource.TOPIC, dead_letter_topic, Operation.WRITE),
        Acl(WORKER, Resource.TOPIC, dead_letter_topic, Operation.DESCRIBE),
        Acl(WORKER, Resource.CLUSTER, "kafka-cluster", Operation.IDEMPOTENT_WRITE),
    ]
    for operation in (Operation.READ, Operation.DESCRIBE):
        acls.append(Acl(WORKER, Resource.GROUP, WORKER_PREFIX, operation, Pattern.PREFIXED))
    for operation in (Operation.READ, Operation.WRITE, Operation.CREATE, Operation.DESCRIBE):
        acls.append(Acl(WORKER, Resource.TOPIC, WORKER_PREFIX, operation, Pattern.PREFIXED))
    return acls


def stale_acls(existing: Iterable[Acl], wanted: Iterable[Acl]) -> list[Acl]:
    """The ACLs of the managed principals that are not wanted any more (pure); `existing`
    holds only ALLOW rules for any host, the kind `apply_accounts` writes."""
    keep = set(wanted)
    return sorted(
        {a for a in existing if a.principal in MANAGED and a not in keep}, key=Acl.describe
    )


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    """SCRAM's SaltedPassword for SHA-512 (RFC 5802: Hi(password, salt, i))."""
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


# --- the two requests aiokafka has no admin call for ------------------------------------


class _AlterScramResponse(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        (
            "results",
            CompactArray(
                ("user", CompactString("utf-8")),
                ("error_code", Int16),
                ("error_message", CompactString("utf-8")),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScramStruct(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 51
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = _AlterScramResponse
    SCHEMA = Schema(
        (
            "deletions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("tags", TaggedFields),
            ),
        ),
        (
            "upsertions",
            CompactArray(
                ("name", CompactString("utf-8")),
                ("mechanism", Int8),
                ("iterations", Int32),
                ("salt", CompactBytes),
                ("salted_password", CompactBytes),
                ("tags", TaggedFields),
            ),
        ),
        ("tags", TaggedFields),
    )


class _AlterScram(Request[_AlterScramStruct]):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self._upsertions = upsertions

    def build(self, request_struct_class: type[_AlterScramStruct]) -> _AlterScramStruct:
        return request_struct_class([], self._upsertions, {})


class _CreateAclsResponse(Response):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 30
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(("error_code", Int16), ("error_message", String("utf-8")))),
    )


class _CreateAclsStruct(RequestStruct):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 30
    API_VERSION = 1
    RESPONSE_TYPE = _CreateAclsResponse
    SCHEMA = Schema(
        (
            "creations",
            Array(
                ("resource_type", Int8),
                ("resource_name", String("utf-8")),
                ("resource_pattern_type", Int8),
                ("principal", String("utf-8")),
                ("host", String("utf-8")),
                ("operation", Int8),
                ("permission_type", Int8),
            ),
        ),
    )


class _CreateAcls(Request[_CreateAclsStruct]):  # type: ignore[misc]  # aiokafka is untyped
    API_KEY = 30

    def __init__(self, acls: Sequence[Acl]) -> None:
        self._acls = acls

    def build(self, request_struct_class: type[_CreateAclsStruct]) -> _CreateAclsStruct:
        return request_struct_class(
            [
                (a.resource, a.name, a.pattern, f"User:{a.principal}", "*", a.operation, ALLOW)
                for a in self._acls
            ]
        )


async def describe_acls(admin: AIOKafkaAdminClient, principal: str) -> list[Acl]:
    """The ALLOW rules for any host the broker holds for `principal`."""
    response = await admin._send_request(
        DescribeAclsRequest(
            Resource.ANY, None, Pattern.ANY, f"User:{principal}", None, Operation.ANY, ALLOW
        )
    )
    if response.error_code != 0:
        raise KafkaAccountsError(
            f"Kafka refused to list the ACLs of {principal} "
            f"(error {response.error_code}: {response.error_message})"
        )
    found = []
    for resource, name, pattern, rules in response.resources:
        for who, host, operation, permission in rules:
            if who == f"User:{principal}" and host == ANY_HOST and permission == ALLOW:
                found.append(
                    Acl(principal, Resource(resource), name, Operation(operation), Pattern(pattern))
                )
    return found


async def delete_acl(admin: AIOKafkaAdminClient, acl: Acl) -> None:
    """Delete exactly this ALLOW rule for any host (the filter names every field)."""
    response = await admin._send_request(
        DeleteAclsRequest(
            acl.resource, acl.name, acl.pattern, f"User:{acl.principal}", ANY_HOST,
            acl.operation, ALLOW,
        )
    )  # fmt: skip
    for code, message, _matching in response.filter_responses:
        if code != 0:
            raise KafkaAccountsError(
                f"Kafka refused to delete the ACL {acl.describe()} (error {code}: {message})"
            )


async def apply_accounts(
    connection: KafkaConnection, passwords: Mapping[str, str], acls: Sequence[Acl]
) -> list[str]:
    """Set each principal's SCRAM-SHA-512 credential, create the ACLs (both idempotent) and
    delete the managed principals' ACLs that `acls` no longer holds; one line per principal
    and per ACL."""
    upsertions: list[tuple[Any, ...]] = []
    for name, password in sorted(passwords.items()):
        salt = secrets.token_bytes(32)
        upsertions.append(
            (
                name,
                SCRAM_SHA_512,
                SCRAM_ITERATIONS,
                salt,
                salted_password(password, salt, SCRAM_ITERATIONS),
                {},
            )
        )
    admin = AIOKafkaAdminClient(**connection.client_kwargs())
    try:
        await admin.start()
        lines = []
        if upsertions:
            scram = await admin._send_to_controller(_AlterScram(upsertions))
            for user, code, message, _tags in scram.results:
                if code != 0:
                    raise KafkaAccountsError(
                        f"Kafka refused the SCRAM credential of {user} (error {code}: {message})"
                    )
                lines.append(f"SCRAM-SHA-512 credential set for {user}")
        if acls:
            created = await admin._send_request(_CreateAcls(acls))
            for acl, (code, message) in zip(acls, created.results, strict=True):
                if code != 0:
                    raise KafkaAccountsError(
                        f"Kafka refused the ACL {acl.describe()} (error {code}: {message})"
                    )
            lines += [f"allowed {acl.describe()}" for acl in acls]
        existing = [a for principal in MANAGED for a in await describe_acls(admin, principal)]
        for acl in stale_acls(existing, acls):
            await delete_acl(admin, acl)
            lines.append(f"removed {acl.describe()} (not in the settings any more)")
    except KafkaError as exc:
        raise KafkaAccountsError(
            f"Kafka at {connection.describe()} refused the accounts request ({exc!r}); "
            "connect as a super user (pts-admin)"
        ) from exc
    finally:
        await admin.close()
    return lines
