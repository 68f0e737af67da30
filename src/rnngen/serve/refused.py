"""A request the server turns away: an HTTP status and a one-line reason."""


class Refused(Exception):
    def __init__(self, status, message, headers=None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
