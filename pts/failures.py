"""Expected failures, explained: one line saying what went wrong and one hint saying what to
do, instead of a traceback (`pts` prints them and exits 1).

Expected means the world is not as the command needs it: a service down, a migration that
fails, settings that cannot be read. Anything else is a bug and keeps its traceback.
Classified by the exception's module and name, so this kernel module imports no driver.
"""

from __future__ import annotations


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def _kind(exc: BaseException) -> tuple[str, str]:
    return type(exc).__module__.split(".")[0], type(exc).__name__


def explain(exc: BaseException) -> tuple[str, str] | None:
    """(message, hint) for an expected failure; None for anything else."""
    package, name = _kind(exc)
    if package == "psycopg" and name == "OperationalError":
        return (
            f"cannot reach PostgreSQL: {_first_line(exc)}",
            "start the local services (`make services-up`) or point PTS_DATABASE_URL at the "
            "running server",
        )
    if package == "psycopg" and name == "UndefinedTable":
        return (
            f"the database is not migrated: {_first_line(exc)}",
            "run `pts db migrate` (PTS_DATABASE_URL names the database)",
        )
    if package == "storage" and name == "MigrationError":
        return (
            f"migration failed: {_first_line(exc)}",
            "fix the cause, then run `pts db migrate` again (applied migrations are kept; "
            "`pts db info` lists them)",
        )
    if package == "storage" and name.endswith("Error"):
        return (_first_line(exc), "`pts db info` shows the database's mode and migrations")
    if package == "aiokafka" and name in {"KafkaConnectionError", "KafkaTimeoutError"}:
        return (
            f"cannot reach Kafka: {_first_line(exc)}",
            "start the local services (`make services-up`) or set PTS_KAFKA_BOOTSTRAP to the "
            "running brokers",
        )
    if package == "pydantic_core" and name == "ValidationError":
        return (
            f"invalid settings: {_first_line(exc)}",
            "check the PTS_* variables (the settings table in the README lists each one)",
        )
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"a service refused the connection: {_first_line(exc)}",
            "start the local services (`make services-up`) or check the PTS_* address settings",
        )
    return None
