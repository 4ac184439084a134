"""A believable demo programme for ``manage.py seed_demo``: real owners, ~1,000 services, history.

Two layers, as elsewhere in the app (STYLE.md), each in its own modules (import from them directly):

* ``demo_plan`` is pure and deterministic: a seed, a size and "today" in, a ``DemoPlan`` of plain
  dataclasses out. The same three inputs always give the same codes, names, volumes, statuses, edges
  and history dates, because every random choice comes from one ``random.Random(seed)`` consumed in a
  fixed order (no iteration over sets or hash-ordered containers).
* ``demo_seed`` writes a plan in one transaction with ``bulk_create``: 100,000 services with their
  ~300,000 dependencies and ~250,000 history rows take under a minute, not the hours that per-row saves
  through ``services`` would.

The demo is "mid-programme" relative to the day it is seeded: status history runs from a year before
``today`` up to yesterday, throughput ramps up over that year, and plan dates straddle ``today`` so the
overdue and due-soon lists have something in them whatever day the demo is built.

Modules: ``vocabulary`` (constants, word lists, tables: data only), ``specs`` (the plain dataclasses and
the organisations and roadmap they start from), ``plan`` (the generator), ``history`` (each service's
status history and dates), ``dependencies`` (the edges) and ``seed`` (the writes).
"""
