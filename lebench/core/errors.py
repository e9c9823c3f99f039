"""Errors a user can fix. The CLI prints them as one line, without a traceback, and exits 2."""


class UserError(Exception):
    """Bad input or configuration: the message names the file or key and the fix."""


class AudioError(UserError):
    """An audio file that cannot be used as it is."""

    def __init__(self, path, reason: str, fix: str, kind: str = "unreadable"):
        self.path, self.reason, self.fix, self.kind = str(path), reason, fix, kind
        super().__init__(f"{path}: {reason}; {fix}")
