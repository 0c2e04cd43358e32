"""DAS providers: Mosquitto ACL from the registry, their brokers, REST/CSV intake."""
