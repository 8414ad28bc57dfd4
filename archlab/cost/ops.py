"""The op record and op vocabulary, re-exported from :mod:`archlab.ops` (where they moved so that
the blocks, below ``cost`` in the layering, can price themselves without importing ``cost``)."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__  # noqa: F401
