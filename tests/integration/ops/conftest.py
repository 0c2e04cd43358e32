"""Fixtures the ops tests share with the ingest tests."""

from tests.integration.ingest.conftest import kafka_target

__all__ = ["kafka_target"]
