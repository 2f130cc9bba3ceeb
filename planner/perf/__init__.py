"""The performance model (pure functions of catalog objects and engine parameters): memory, step times, capacity, estimates."""
