"""Every table, one module per table, re-exported here so Alembic sees the whole metadata."""

from modelyard.kit.db import Base
from modelyard.models.alerts import (
    AlertChannel,
    AlertEvent,
    AlertLease,
    AlertRule,
)
from modelyard.models.audit import AuditEntry
from modelyard.models.datasets import Dataset, DatasetUpload
from modelyard.models.deployments import Deployment, DeploymentSwitch
from modelyard.models.drift import DriftCheck
from modelyard.models.evaluations import Evaluation, EvaluationScore
from modelyard.models.jobs import Job
from modelyard.models.logins import LoginAttempt
from modelyard.models.metrics import MetricPoint, MetricRollup, MetricRollupState, MetricSeries
from modelyard.models.registry import (
    AliasProtection,
    ModelAlias,
    ModelTag,
    ModelVersion,
    RegisteredModel,
    RegistryGeneration,
    VersionTag,
)
from modelyard.models.reports import Report
from modelyard.models.serving import PredictionLogSetting
from modelyard.models.targets import Target
from modelyard.models.tuning import TuningRecord
from modelyard.models.users import ApiToken, User
from modelyard.models.webhooks import Delivery, Webhook

__all__ = [
    "AlertChannel",
    "AlertEvent",
    "AlertLease",
    "AlertRule",
    "AliasProtection",
    "ApiToken",
    "AuditEntry",
    "Base",
    "Dataset",
    "DatasetUpload",
    "Delivery",
    "Deployment",
    "DeploymentSwitch",
    "DriftCheck",
    "Evaluation",
    "EvaluationScore",
    "Job",
    "LoginAttempt",
    "MetricPoint",
    "MetricRollup",
    "MetricRollupState",
    "MetricSeries",
    "ModelAlias",
    "ModelTag",
    "ModelVersion",
    "PredictionLogSetting",
    "RegisteredModel",
    "RegistryGeneration",
    "Report",
    "Target",
    "TuningRecord",
    "User",
    "VersionTag",
    "Webhook",
]
