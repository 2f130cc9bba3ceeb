"""The shipped catalogs (YAML data, not code): installed as this package so `pip install .` works outside the repo."""
