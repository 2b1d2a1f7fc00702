"""newsqa: question answering over a folder of news articles, with citations.

The public face; the modules behind it are one concept each (see README's file map).

>>> from qa import Settings
>>> Settings.load(k=3).k
3
"""

from .answer import Answer, Asker
from .config import Settings
from .errors import ArticleError, IndexError_, IndexLockedError, InputError, ModelError, QAError, SeedsError
from .index import BuildReport, build, check
from .search import Filters, Hit, Retriever

__all__ = ["Answer", "Asker", "ArticleError", "BuildReport", "Filters", "Hit", "IndexError_", "IndexLockedError",
           "InputError", "ModelError", "QAError", "Retriever", "SeedsError", "Settings", "build", "check"]
