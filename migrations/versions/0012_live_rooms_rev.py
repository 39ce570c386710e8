"""live: a session's room revision (moved when its audience or hosts change)

Revision ID: 0012_live_rooms_rev
Revises: 0011_live
Create Date: 2026-11-23 09:10:00.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0012_live_rooms_rev"
down_revision = "0011_live"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("live_sessions") as batch_op:
        batch_op.add_column(sa.Column("rooms_rev", sa.Integer(), server_default="0", nullable=False))


def downgrade():
    with op.batch_alter_table("live_sessions") as batch_op:
        batch_op.drop_column("rooms_rev")
