"""media: keep serving the previously published version for a grace period

Revision ID: 0004_media_versions
Revises: 0003_sessions_notifications
Create Date: 2026-11-23 09:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = '0004_media_versions'
down_revision = '0003_sessions_notifications'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_output_dir', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('previous_until', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('media_assets', schema=None) as batch_op:
        batch_op.drop_column('previous_until')
        batch_op.drop_column('previous_output_dir')
