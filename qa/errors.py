"""The exceptions newsqa raises. Every message names the file or input and the fix.

    QAError                    base: anything the CLI or the page should show as one line
    ├── ArticleError           an article file cannot be read or has no content (path + reason)
    ├── SeedsError             the seeds folder is missing or holds no articles
    ├── IndexError_            the index folder is missing, broken, stale or from another model
    │   └── IndexLockedError   another build holds the lock on the index folder
    ├── ModelError             the embedding model cannot be loaded (name + what to pick instead)
    └── InputError             a question, filter or data file given by the user is unusable

The library raises these; only `qa/cli.py` and `app.py` turn them into messages.
"""

from __future__ import annotations


class QAError(Exception):
    """Base class: `str(err)` is a complete, user-facing sentence."""


class ArticleError(QAError):
    """An article file that cannot be indexed."""

    def __init__(self, path: object, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SeedsError(QAError):
    """The articles folder is unusable."""


class IndexError_(QAError):  # noqa: N801 - trailing underscore: do not shadow the builtin
    """The index folder is missing, broken or does not match the settings."""


class IndexLockedError(IndexError_):
    """Another `qa build` is writing this index."""


class ModelError(QAError):
    """The embedding model cannot be loaded."""


class InputError(QAError):
    """A user-given value (question, filter, data file) is unusable."""
