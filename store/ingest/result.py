"""What a run of ingestion accepted."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class IngestResult:
    """What a run of ingestion accepted."""

    accepted: int = 0
    duplicates: int = 0
    flows_created: int = 0
    released: int = 0  # statuses that waited for their message and were applied with it
    by_type: Counter[str] = field(default_factory=Counter)

    def merge(self, other: IngestResult) -> None:
        """Add another result's counts to this one."""
        self.accepted += other.accepted
        self.duplicates += other.duplicates
        self.flows_created += other.flows_created
        self.released += other.released
        self.by_type.update(other.by_type)
