"""The run record: typed values, the events a run emits, the journal that folds them, result.json's schema.

Imports nothing of benchd's (an import-linter contract): every other package may depend on it.
"""

from daemon.record.events import (
    Event,
    JobFinished,
    JobStarted,
    Log,
    MetricsRecorded,
    RunFinished,
    RunStarted,
    StepFinished,
    StepStarted,
)
from daemon.record.journal import Journal, Subscriber, fold, iso
from daemon.record.values import (
    DONE,
    SCHEMA,
    SKIP_EXIT,
    BoardResult,
    ErrorEntry,
    HostMetrics,
    ImageRef,
    JobRecord,
    Metrics,
    ModelInfo,
    PipelineInfo,
    ReferenceCMetrics,
    RunRecord,
    StepRecord,
    VirtualMetrics,
)

__all__ = [
    "DONE", "SCHEMA", "SKIP_EXIT", "BoardResult", "ErrorEntry", "Event", "HostMetrics", "ImageRef", "JobFinished",
    "JobRecord",
    "JobStarted", "Journal", "Log", "Metrics", "MetricsRecorded", "ModelInfo", "PipelineInfo", "ReferenceCMetrics",
    "RunFinished", "RunRecord", "RunStarted", "StepFinished", "StepRecord", "StepStarted", "Subscriber",
    "VirtualMetrics", "fold", "iso",
]
