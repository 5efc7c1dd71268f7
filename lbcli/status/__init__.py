"""Service status (`cilium-lb lb status`): a model built from plans plus observed facts."""

from .model import PLANNED_OK, Count, ServiceStatus, Status, build_status
from .observed import Observed, ServiceFacts

__all__ = ["PLANNED_OK", "Count", "Observed", "ServiceFacts", "ServiceStatus", "Status", "build_status"]
