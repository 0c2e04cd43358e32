"""PostgreSQL/TimescaleDB storage: migrations, idempotent writers, registry store. No domain rules."""
