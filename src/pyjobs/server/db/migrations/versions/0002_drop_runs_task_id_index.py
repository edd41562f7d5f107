"""Drop ix_runs_task_id: the unique (task_id, number) index already serves lookups by task.

Its leading column is task_id, so every query and cascade that finds a task's runs uses it;
the single-column index only cost an insert per new run (a tenth of the index work of a
submission: tasks and runs had eight).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Drop the redundant index."""
    op.drop_index("ix_runs_task_id", table_name="runs")


def downgrade() -> None:
    """Create it again."""
    op.create_index("ix_runs_task_id", "runs", ["task_id"])
