"""Meter simulator: realistic solar production served over real Modbus TCP, with faults, and
the ground truth of what each meter registered."""
