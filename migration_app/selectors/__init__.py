"""Reads shaped for one consumer (a page, the API, an e-mail, the engine), each in a fixed number of
queries (docs/architecture.md). One module per sub-domain; none imports ``services`` or ``tasks``.
"""
