"""PostgreSQL/TimescaleDB storage: migrations, idempotent writers, registry store.

Holds SQL, never domain decisions.
"""
