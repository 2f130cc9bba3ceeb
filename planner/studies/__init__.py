"""What-if studies over the solve pipeline: overrides and scenarios, compare, diff, sweep, sensitivity."""
