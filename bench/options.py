"""What every benchmark is given: the session's workspace and how thoroughly to measure."""

from __future__ import annotations

from dataclasses import dataclass

from bench.workspace import Workspace


@dataclass(frozen=True)
class Options:
    """One benchmark session's settings."""

    workspace: Workspace
    # Smoke: one round and the smallest packages, to prove a benchmark runs end to end.
    smoke: bool = False

    def rounds(self, full: int) -> int:
        """How many interleaved rounds to run: `full`, or 1 in smoke mode."""
        return 1 if self.smoke else full
