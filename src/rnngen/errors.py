"""The errors rnngen raises for a user's mistake or an outside fault.

The command line turns each into a one-line message and an exit code; nothing
below it prints or exits.
"""


class RnngenError(Exception):
    """Base of every error meant for the user; str() is the whole message."""


class ConfigError(RnngenError):
    """A config file or override is missing, malformed or out of range."""


class CorpusError(RnngenError):
    """A corpus cannot be read, fetched or used."""


class CheckpointError(RnngenError):
    """A checkpoint cannot be read, written or used."""


class VocabularyError(RnngenError):
    """Text holds characters the model's vocabulary lacks."""


class TrainingDiverged(RnngenError):
    """The loss stopped being a finite number."""


class OptionError(RnngenError):
    """An option given to a library call is out of range, or clashes with another.

    The message may name options as ``{name}`` fields (``options`` lists them): str()
    shows their Python names, ``naming`` the caller's (the CLI passes its flags).
    """

    def __init__(self, message, options=()):
        self.template, self.options = message, tuple(options)
        super().__init__(self.naming({}))

    def naming(self, names):
        """The message with each option called what ``names`` maps it to."""
        text = self.template
        for option in self.options:
            text = text.replace("{" + option + "}", names.get(option, option))
        return text


class DeviceError(RnngenError):
    """The device asked for cannot be used (no CuPy, no GPU)."""


class ReportError(RnngenError):
    """A report cannot be written."""


class MissingExtra(RnngenError):
    """An optional dependency is not installed, or fails to import."""
