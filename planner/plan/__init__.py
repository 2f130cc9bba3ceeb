"""The plan: typed model, assembly from a solved fleet, and its JSON document."""
