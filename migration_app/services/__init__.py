"""Writes with rules or side effects: the only code that changes the catalog (docs/architecture.md).

One module per sub-domain. Views, the API, the admin, commands and tasks call these functions; nothing
else changes a service's status, its version or its dependency edges. Services read through
``selectors`` and ask for background work through ``recompute.portfolio_recompute_request`` or
``task_queue.task_send``, never by importing ``tasks``.
"""
