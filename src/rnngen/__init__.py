"""rnngen: character-level recurrent language models in NumPy."""
__version__ = "0.1.0"
