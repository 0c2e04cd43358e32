"""Stream processing: a pure core (decode, validate, dedupe, energy, local days and months) and
two thin engines that run it, the Faust app on Kafka and an in-process engine."""
