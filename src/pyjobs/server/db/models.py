"""Tables: tokens, tasks, runs (each with its own snapshot of the task), server instances."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

ID = String(32)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Store UTC; refuse naive datetimes, whose zone nobody knows."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base of every pyjobs table."""


class Token(Base):
    """An API token; only its SHA-256 is stored."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Task(Base):
    """A submitted task: its request as validated, its owner, its latest run's status."""

    __tablename__ = "tasks"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    owner_id: Mapped[str | None] = mapped_column(ID, ForeignKey("tokens.id", ondelete="SET NULL"))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The latest run's status and number, kept here so listing needs no join.
    status: Mapped[str] = mapped_column(String(16))
    latest_run: Mapped[int] = mapped_column(Integer)
    # "<owner or ->:<key>": unique on its own, so also without an owner (NULLs never clash).
    idempotency_key: Mapped[str | None] = mapped_column(String(250), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    runs: Mapped[list[Run]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        order_by="Run.number",
        passive_deletes=True,
    )

    __table_args__ = (
        Index("ix_tasks_owner_id_id", "owner_id", "id"),
        Index("ix_tasks_status_id", "status", "id"),
    )


class Run(Base):
    """One execution of a task, with its own snapshot of code, packages and limits."""

    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    task_id: Mapped[str] = mapped_column(ID, ForeignKey("tasks.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    backend: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    signal: Mapped[int | None] = mapped_column(Integer)
    workflow_name: Mapped[str | None] = mapped_column(String(253))
    manifest: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    env_cache_hit: Mapped[bool | None] = mapped_column(Boolean)
    setup_seconds: Mapped[float | None] = mapped_column(Float)
    run_seconds: Mapped[float | None] = mapped_column(Float)
    limits: Mapped[list[str]] = mapped_column(JSON, default=list)
    claimed_by: Mapped[str | None] = mapped_column(
        ID, ForeignKey("instances.id", ondelete="SET NULL")
    )
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    task: Mapped[Task] = relationship(back_populates="runs")

    __table_args__ = (
        # Also finds a task's runs (task_id leads): no index of task_id alone is needed.
        UniqueConstraint("task_id", "number", name="uq_runs_task_number"),
        # The dispatcher's question: which runs wait, oldest first?
        Index("ix_runs_status_claimed_id", "status", "claimed_by", "id"),
    )


class Instance(Base):
    """A server process; its heartbeat says whether the runs it claimed are still cared for."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    host: Mapped[str] = mapped_column(String(253))
    pid: Mapped[int] = mapped_column(Integer)
    backend: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())
