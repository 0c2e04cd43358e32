"""Re-drive dead letters once their cause is fixed: nothing refused is lost for good.

A reading refused because its meter was not registered yet (or registered to another
provider, or stamped ahead of the clock, or sent under another meter's key) is kept in
`dead_letters` with its payload. After the registry is put right, `pts stream redrive
--reason unknown_meter` sends each such payload through the same core and storage again
(stream.inprocess) and marks the dead letter with when and what came of it: `stored`,
`duplicate`, `conflict`, or `rejected: <code>` (the new refusal is a dead letter of its own,
source `redrive`, so fixing it and re-driving again works the same way). Payload defects
(malformed JSON, wrong types, negative registers) cannot be fixed by re-driving and are refused.

The bridge's `topic_invalid` dead letters (a valid batch on a malformed topic, recorded by the
stream worker with the MQTT topic in the reason) are re-driven only when the batch's source is
the topic's owner: the level after the topic root (`gateway_id`), or after `das/` for a DAS
provider. Whoever may write under a prefix cannot have a batch re-driven in another's name.

Idempotent: a re-drive interrupted before a letter was marked stores nothing twice (the
writer dedupes on (meter_id, ts)); marked letters are not taken again.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from pydantic import ValidationError

from schemas.reading import Reading, ReadingBatch
from storage import dead_letter_store
from stream.errors import REDRIVABLE, ReasonCode
from stream.inprocess import InProcessEngine
from stream.persist import Outcome, WorkLimits
from stream.stages import Limits


def message_of(payload: bytes, dead_letter_id: int, now: datetime) -> ReadingBatch | None:
    """The batch to submit again, or None if the payload is not a reading or a batch. A
    single refused reading travels in a batch of its own (validated once, here)."""
    try:
        return ReadingBatch.model_validate_json(payload)
    except ValidationError:
        try:
            reading = Reading.model_validate_json(payload)
        except ValidationError:
            return None
    return ReadingBatch(
        batch_id=f"redrive-{dead_letter_id}",
        source=reading.source,
        source_id=reading.source_id,
        sent_at=now,
        readings=(reading,),
    )


_TOPIC = re.compile(r"\[topic ([^\]]*)\]$")


def topic_owner(reason: str, topic_root: str) -> tuple[str, str] | None:
    """(source, source_id) owning the MQTT topic named at the end of a bridge dead letter's
    reason (`… [topic pts/v1/gw-1/…]`), or None if there is none under `topic_root`."""
    found = _TOPIC.search(reason)
    prefix = topic_root.rstrip("/") + "/"
    if found is None or not found.group(1).startswith(prefix):
        return None
    levels = found.group(1)[len(prefix) :].split("/")
    if levels[0] == "das":
        return ("das", levels[1]) if len(levels) > 2 and levels[1] else None
    return ("gateway", levels[0]) if len(levels) > 1 and levels[0] else None


def result_of(outcome: Outcome) -> str:
    """What to record on the dead letter after its payload went through again."""
    if outcome.rejects:
        return "rejected: " + ",".join(sorted({r.code.value for r in outcome.rejects}))
    if outcome.conflict:
        return "conflict"
    return "stored" if outcome.new else "duplicate"


@dataclass(slots=True)
class RedriveReport:
    reason_code: ReasonCode
    results: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        if not self.results:
            return f"no {self.reason_code.value} dead letters waiting"
        parts = ", ".join(f"{n} {result}" for result, n in sorted(self.results.items()))
        return f"re-drove {sum(self.results.values())} {self.reason_code.value}: {parts}"


async def redrive(
    database_url: str,
    reason_code: ReasonCode,
    now: datetime,
    meter_id: str | None = None,
    limit: int = 100_000,
    limits: Limits | None = None,
    work: WorkLimits | None = None,
    topic_root: str = "pts/v1",
) -> RedriveReport:
    """Send the waiting dead letters with `reason_code` (of `meter_id` only, if given)
    through the core again; mark each with its result."""
    if reason_code not in REDRIVABLE:
        raise ValueError(
            f"{reason_code.value} is a defect of the payload itself; re-driving cannot fix it "
            f"(re-drivable: {', '.join(sorted(r.value for r in REDRIVABLE))})"
        )
    report = RedriveReport(reason_code)
    async with (
        await psycopg.AsyncConnection.connect(database_url, autocommit=True) as aconn,
        await InProcessEngine.connect(
            database_url, label="redrive", clock=lambda: now, limits=limits, work=work
        ) as engine,
    ):
        for dead_letter_id, payload, reason in await dead_letter_store.dead_letters_to_redrive(
            aconn, reason_code.value, limit
        ):
            batch = message_of(payload, dead_letter_id, now)
            if batch is None:
                result = "not a reading"
            elif meter_id is not None and batch.readings[0].meter_id != meter_id:
                continue
            elif reason_code is ReasonCode.TOPIC_INVALID and topic_owner(reason, topic_root) != (
                batch.source.value,
                batch.source_id,
            ):
                result = "not from the topic's owner"
            else:
                meters = {r.meter_id for r in batch.readings}
                key = batch.readings[0].meter_id.encode() if len(meters) == 1 else None
                result = result_of(await engine.submit(batch, key=key, offset=dead_letter_id))
            await dead_letter_store.mark_redriven(aconn, dead_letter_id, result)
            report.results[result] += 1
    return report
