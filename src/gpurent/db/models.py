"""Every domain's tables, gathered so that Alembic sees one metadata."""

from __future__ import annotations

from gpurent.accounts import models as _accounts_models  # noqa: F401
from gpurent.audit import models as _audit_models  # noqa: F401
from gpurent.billing import models as _billing_models  # noqa: F401
from gpurent.catalog import models as _catalog_models  # noqa: F401
from gpurent.compliance import models as _compliance_models  # noqa: F401
from gpurent.db.base import Base
from gpurent.fleet import models as _fleet_models  # noqa: F401
from gpurent.jobs import models as _jobs_models  # noqa: F401
from gpurent.leases import models as _leases_models  # noqa: F401
from gpurent.lists import models as _lists_models  # noqa: F401
from gpurent.offers import models as _offers_models  # noqa: F401

metadata = Base.metadata
