"""Imports every bounded context's models so the metadata is complete (for Alembic)."""

from domain import jobs as job_models  # noqa: F401
from domain.base import Base
from domain.community import models as community_models  # noqa: F401
from domain.drops import models as drop_models  # noqa: F401
from domain.identity import models as identity_models  # noqa: F401
from domain.notifications import models as notification_models  # noqa: F401
from domain.payments import models as payment_models  # noqa: F401
from domain.polls import models as poll_models  # noqa: F401
from domain.production import models as production_models  # noqa: F401
from domain.referrals import models as referral_models  # noqa: F401

metadata = Base.metadata
