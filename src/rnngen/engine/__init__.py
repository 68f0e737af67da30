"""rnngen's engine: pure NumPy layers, model, optimizers and sampling.

Nothing here reads files, prints or knows about the command line.
"""
