"""Pure functions over plain data: no ORM, no Django settings. Fast, and testable with hypothesis.

``lifecycle`` (the status transitions), ``portfolio`` (the dependency graph and its shared analysis),
``readiness``, ``leverage`` (and slip impact), ``waves``, ``progress`` (figures, overdue, the forecast)
and ``history`` (replaying status changes). Import from the module that defines a name.
"""
