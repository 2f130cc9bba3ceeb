"""Calibration: predictions for observations, and fitting the efficiency factors to them."""
