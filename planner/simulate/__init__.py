"""Discrete-event replay of a plan: routing, replica schedulers, metrics, verify/repair."""
