"""Ingest: MQTT→Kafka bridge, DAS provider feeds (broker, REST, CSV); no business rules."""
