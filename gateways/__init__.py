"""Edge gateway agent: register maps, Modbus polling, durable spool, MQTT publishing, and a
meter simulator that knows the ground truth it served."""
