"""The workbench: assessments entered in the web app, policy versions, a user's manager id,
runs in the audit log.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_ENTITIES = "entity IN ('policy', 'override', 'assessment', 'plan', 'user')"
NEW_ENTITIES = "entity IN ('policy', 'override', 'assessment', 'plan', 'user', 'run')"


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False),
        sa.Column("criterion", sa.String(length=200), nullable=False),
        sa.Column("assessor", sa.String(length=320), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_assessments"),
        sa.UniqueConstraint("account_id", "criterion", "assessor", name="uq_assessments_key"),
    )
    op.create_index("ix_assessments_account_id", "assessments", ["account_id"])
    op.create_table(
        "policy_versions",
        sa.Column("number", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("who", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("number", name="pk_policy_versions"),
    )
    op.create_index("ix_policy_versions_sha256", "policy_versions", ["sha256"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("manager_id", sa.String(length=200), nullable=True))
    _entities(NEW_ENTITIES)


def downgrade() -> None:
    # The old entity check cannot hold the run entries: going back forgets them.
    op.execute(sa.text("DELETE FROM audit_log WHERE entity = 'run'"))
    _entities(OLD_ENTITIES)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("manager_id")
    op.drop_index("ix_policy_versions_sha256", table_name="policy_versions")
    op.drop_table("policy_versions")
    op.drop_index("ix_assessments_account_id", table_name="assessments")
    op.drop_table("assessments")


def _entities(condition: str) -> None:
    """Replace the audit log's entity check (SQLite: by recreating the table, batch mode)."""
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_constraint("ck_audit_log_entity", type_="check")
        batch.create_check_constraint("ck_audit_log_entity", sa.text(condition))
