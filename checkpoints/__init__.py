"""The shipped model, installed as the data package rnngen.models (see pyproject.toml)."""
