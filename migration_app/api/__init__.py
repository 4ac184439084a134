"""The REST API under /api/v1/ (issue 4; guide in docs/api.md).

Thin views over the same FilterSets, selectors and services the pages use. Engine results are read
from the stored recompute, never computed per request (slip impact is the one live computation).
"""
