"""Initial schema: tokens, tasks, runs, instances.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pyjobs.server.db.models import UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.String(32)


def upgrade() -> None:
    """Create the tables."""
    op.create_table(
        "tokens",
        sa.Column("id", ID, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("admin", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "instances",
        sa.Column("id", ID, primary_key=True),
        sa.Column("host", sa.String(253), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("started_at", UtcDateTime(), nullable=False),
        sa.Column("heartbeat_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "tasks",
        sa.Column("id", ID, primary_key=True),
        sa.Column("owner_id", ID, sa.ForeignKey("tokens.id", ondelete="SET NULL")),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("latest_run", sa.Integer, nullable=False),
        sa.Column("idempotency_key", sa.String(250), unique=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_tasks_owner_id_id", "tasks", ["owner_id", "id"])
    op.create_index("ix_tasks_status_id", "tasks", ["status", "id"])
    op.create_table(
        "runs",
        sa.Column("id", ID, primary_key=True),
        sa.Column("task_id", ID, sa.ForeignKey("tasks.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("backend", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(32)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("exit_code", sa.Integer),
        sa.Column("signal", sa.Integer),
        sa.Column("workflow_name", sa.String(253)),
        sa.Column("manifest", sa.JSON),
        sa.Column("env_cache_hit", sa.Boolean),
        sa.Column("setup_seconds", sa.Float),
        sa.Column("run_seconds", sa.Float),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("claimed_by", ID, sa.ForeignKey("instances.id", ondelete="SET NULL")),
        sa.Column("cancel_requested", sa.Boolean, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("started_at", UtcDateTime()),
        sa.Column("finished_at", UtcDateTime()),
        sa.UniqueConstraint("task_id", "number", name="uq_runs_task_number"),
    )
    op.create_index("ix_runs_status_claimed_id", "runs", ["status", "claimed_by", "id"])
    op.create_index("ix_runs_task_id", "runs", ["task_id"])


def downgrade() -> None:
    """Drop the tables."""
    for table in ("runs", "tasks", "instances", "tokens"):
        op.drop_table(table)
