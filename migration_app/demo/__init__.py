"""A believable demo programme for ``manage.py seed_demo``: real owners, ~1,000 services, history.

Two layers, as elsewhere in the app (STYLE.md):

* ``demo_plan`` is pure and deterministic: a seed, a size and "today" in, a ``DemoPlan`` of plain
  dataclasses out. The same three inputs always give the same codes, names, volumes, statuses, edges
  and history dates, because every random choice comes from one ``random.Random(seed)`` consumed in a
  fixed order (no iteration over sets or hash-ordered containers).
* ``demo_seed`` writes a plan in one transaction with ``bulk_create``: 100,000 services with their
  ~300,000 dependencies and ~250,000 history rows take under a minute, not the hours that per-row saves
  through ``services.py`` would.

The demo is "mid-programme" relative to the day it is seeded: status history runs from a year before
``today`` up to yesterday, throughput ramps up over that year, and plan dates straddle ``today`` so the
overdue and due-soon lists have something in them whatever day the demo is built.
"""

# The package is split by layer: ``vocabulary`` (constants, word lists, tables), ``plan`` (the pure
# generator) and ``seed`` (the writes). Everything callers import lives here, as it did in the old module.
from .plan import (
    DEMO_USERS,
    CapabilitySpec,
    DemoPlan,
    DependencyPlan,
    OrgSpec,
    ServicePlan,
    StepPlan,
    UserSpec,
    capability_specs,
    demo_plan,
    org_specs,
    orgs_read,
)
from .seed import (
    CatalogNotEmptyError,
    SeedResult,
    demo_logins,
    demo_seed,
    demo_snapshots_backfill,
)
from .vocabulary import (
    BATCH_SIZE,
    BIG_OWNER_WEIGHTS,
    CAPABILITIES,
    CAPABILITY_NEEDS,
    DELEGATION_SCHEMES_MOVED,
    DEMO_PASSWORD,
    FIRST_NAMES,
    GENERAL_SUBJECTS,
    HISTORY_DAYS,
    LAST_NAMES,
    NAME_TEMPLATES,
    NOTES,
    ORGS_FILE,
    OWNER_SUBJECTS,
    OWNER_TEMPLATES,
    OWNER_TYPE_BIAS,
    QUALIFIERS,
    REGRESSION_COMMENTS,
    SERVICE_EDGE_NOTES,
    STATUS_LEVEL,
    STATUS_WEIGHTS,
    STEP_COMMENTS,
    STEP_GAP_DAYS,
    TEST_ORGS,
    TYPE_VOLUME_SHIFT,
    TYPE_WEIGHTS,
    CapabilityDate,
)

__all__ = [
    "BATCH_SIZE",
    "BIG_OWNER_WEIGHTS",
    "CAPABILITIES",
    "CAPABILITY_NEEDS",
    "DELEGATION_SCHEMES_MOVED",
    "DEMO_PASSWORD",
    "DEMO_USERS",
    "FIRST_NAMES",
    "GENERAL_SUBJECTS",
    "HISTORY_DAYS",
    "LAST_NAMES",
    "NAME_TEMPLATES",
    "NOTES",
    "ORGS_FILE",
    "OWNER_SUBJECTS",
    "OWNER_TEMPLATES",
    "OWNER_TYPE_BIAS",
    "QUALIFIERS",
    "REGRESSION_COMMENTS",
    "SERVICE_EDGE_NOTES",
    "STATUS_LEVEL",
    "STATUS_WEIGHTS",
    "STEP_COMMENTS",
    "STEP_GAP_DAYS",
    "TEST_ORGS",
    "TYPE_VOLUME_SHIFT",
    "TYPE_WEIGHTS",
    "CapabilityDate",
    "CapabilitySpec",
    "CatalogNotEmptyError",
    "DemoPlan",
    "DependencyPlan",
    "OrgSpec",
    "SeedResult",
    "ServicePlan",
    "StepPlan",
    "UserSpec",
    "capability_specs",
    "demo_logins",
    "demo_plan",
    "demo_seed",
    "demo_snapshots_backfill",
    "org_specs",
    "orgs_read",
]
