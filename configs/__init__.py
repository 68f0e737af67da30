"""The shipped configs, installed as the data package rnngen.configs (see pyproject.toml)."""
