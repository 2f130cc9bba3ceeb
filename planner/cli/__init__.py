"""The command line (click), a thin shell over the Python API."""
