"""school: catalogue, progress, quizzes, credit ledger

Revision ID: 0005_school
Revises: 0004_media_versions
Create Date: 2026-11-22 22:20:08.317516

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005_school'
down_revision = '0004_media_versions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('school_categories',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=50), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['school_categories.id'], name=op.f('fk_school_categories_parent_id_school_categories'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_categories')),
    sa.UniqueConstraint('parent_id', 'name', name='uq_school_categories_parent_name')
    )
    with op.batch_alter_table('school_categories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_categories_parent_id'), ['parent_id'], unique=False)

    op.create_table('school_courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('summary_html', sa.Text(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('teacher', sa.String(length=50), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('required', sa.Boolean(), nullable=False),
    sa.Column('open_to_all', sa.Boolean(), nullable=False),
    sa.Column('credit_hours', sa.Float(), nullable=False),
    sa.Column('cover_path', sa.String(length=300), nullable=True),
    sa.Column('attention_minutes', sa.Integer(), nullable=True),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['school_categories.id'], name=op.f('fk_school_courses_category_id_school_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_school_courses_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_courses'))
    )
    with op.batch_alter_table('school_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_courses_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_courses_published'), ['published'], unique=False)

    op.create_table('school_credit_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=7, scale=2), nullable=False),
    sa.Column('source', sa.Enum('lesson', 'course', 'quiz', 'offline', 'correction', name='creditsource', native_enum=False, length=20), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('award_key', sa.String(length=80), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_school_credit_entries_created_by_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['reverses_id'], ['school_credit_entries.id'], name=op.f('fk_school_credit_entries_reverses_id_school_credit_entries')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_credit_entries_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_credit_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_school_credit_entries_reverses_id'))
    )
    with op.batch_alter_table('school_credit_entries', schema=None) as batch_op:
        batch_op.create_index('ix_school_credit_entries_user_year', ['user_id', 'year', 'created_at', 'amount'], unique=False)
        batch_op.create_index('uq_school_credit_entries_user_award', ['user_id', 'award_key'], unique=True)

    op.create_table('school_credit_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_school_credit_rules_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_credit_rules'))
    )
    op.create_table('school_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('branch_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('assigned_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'], name=op.f('fk_school_assignments_assigned_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['branch_id'], ['branches.id'], name=op.f('fk_school_assignments_branch_id_branches'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_assignments_course_id_school_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_assignments')),
    sa.UniqueConstraint('course_id', 'branch_id', 'year', name='uq_school_assignments_course_branch_year')
    )
    with op.batch_alter_table('school_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_assignments_branch_id'), ['branch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_assignments_course_id'), ['course_id'], unique=False)

    op.create_table('school_course_completions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_course_completions_course_id_school_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_course_completions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_course_completions')),
    sa.UniqueConstraint('user_id', 'course_id', name='uq_school_course_completions_user_course')
    )
    with op.batch_alter_table('school_course_completions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_course_completions_course_id'), ['course_id'], unique=False)

    op.create_table('school_enrollments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_enrollments_course_id_school_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_enrollments_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_enrollments')),
    sa.UniqueConstraint('user_id', 'course_id', name='uq_school_enrollments_user_course')
    )
    with op.batch_alter_table('school_enrollments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_enrollments_course_id'), ['course_id'], unique=False)

    op.create_table('school_lessons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description_html', sa.Text(), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=False),
    sa.Column('duration', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['media_assets.id'], name=op.f('fk_school_lessons_asset_id_media_assets'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_lessons_course_id_school_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_lessons'))
    )
    with op.batch_alter_table('school_lessons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_lessons_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_lessons_course_id'), ['course_id'], unique=False)

    op.create_table('school_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('single', 'multiple', 'truefalse', name='questionkind', native_enum=False, length=20), nullable=False),
    sa.Column('stem', sa.Text(), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('difficulty', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['school_categories.id'], name=op.f('fk_school_questions_category_id_school_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_questions_course_id_school_courses'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_questions'))
    )
    with op.batch_alter_table('school_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_questions_category_id'), ['category_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_questions_course_id'), ['course_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_questions_fingerprint'), ['fingerprint'], unique=False)

    op.create_table('school_quizzes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=True),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('mode', sa.Enum('fixed', 'random', name='quizmode', native_enum=False, length=20), nullable=False),
    sa.Column('draw', sa.JSON(), nullable=True),
    sa.Column('time_limit_seconds', sa.Integer(), nullable=True),
    sa.Column('max_attempts', sa.Integer(), nullable=True),
    sa.Column('pass_mark', sa.Float(), nullable=False),
    sa.Column('published', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['school_categories.id'], name=op.f('fk_school_quizzes_category_id_school_categories'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['course_id'], ['school_courses.id'], name=op.f('fk_school_quizzes_course_id_school_courses'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_quizzes'))
    )
    with op.batch_alter_table('school_quizzes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_quizzes_course_id'), ['course_id'], unique=False)

    op.create_table('school_deadline_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('assignment_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['assignment_id'], ['school_assignments.id'], name=op.f('fk_school_deadline_reminders_assignment_id_school_assignments'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_deadline_reminders_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_deadline_reminders')),
    sa.UniqueConstraint('assignment_id', 'user_id', 'kind', name='uq_school_deadline_reminders_assignment_user_kind')
    )
    with op.batch_alter_table('school_deadline_reminders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_deadline_reminders_user_id'), ['user_id'], unique=False)

    op.create_table('school_lesson_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('stored_path', sa.String(length=300), nullable=False),
    sa.Column('mimetype', sa.String(length=60), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['lesson_id'], ['school_lessons.id'], name=op.f('fk_school_lesson_attachments_lesson_id_school_lessons'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_lesson_attachments'))
    )
    with op.batch_alter_table('school_lesson_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_lesson_attachments_lesson_id'), ['lesson_id'], unique=False)

    op.create_table('school_question_options',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(length=500), nullable=False),
    sa.Column('correct', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['school_questions.id'], name=op.f('fk_school_question_options_question_id_school_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_question_options'))
    )
    with op.batch_alter_table('school_question_options', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_question_options_question_id'), ['question_id'], unique=False)

    op.create_table('school_quiz_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('passed', sa.Boolean(), nullable=True),
    sa.ForeignKeyConstraint(['quiz_id'], ['school_quizzes.id'], name=op.f('fk_school_quiz_attempts_quiz_id_school_quizzes'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_quiz_attempts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_quiz_attempts')),
    sa.UniqueConstraint('quiz_id', 'user_id', 'number', name='uq_school_quiz_attempts_quiz_user_number')
    )
    with op.batch_alter_table('school_quiz_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_school_quiz_attempts_quiz_user', ['quiz_id', 'user_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_quiz_attempts_user_id'), ['user_id'], unique=False)

    op.create_table('school_quiz_questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('quiz_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['school_questions.id'], name=op.f('fk_school_quiz_questions_question_id_school_questions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['quiz_id'], ['school_quizzes.id'], name=op.f('fk_school_quiz_questions_quiz_id_school_quizzes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_quiz_questions')),
    sa.UniqueConstraint('quiz_id', 'question_id', name='uq_school_quiz_questions_quiz_question')
    )
    with op.batch_alter_table('school_quiz_questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_quiz_questions_quiz_id'), ['quiz_id'], unique=False)

    op.create_table('school_watch_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_report_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('superseded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('reports', sa.Integer(), nullable=False),
    sa.Column('credited', sa.Float(), nullable=False),
    sa.Column('client', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['lesson_id'], ['school_lessons.id'], name=op.f('fk_school_watch_sessions_lesson_id_school_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_watch_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_watch_sessions')),
    sa.UniqueConstraint('token', name=op.f('uq_school_watch_sessions_token'))
    )
    with op.batch_alter_table('school_watch_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_watch_sessions_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_school_watch_sessions_user_id'), ['user_id'], unique=False)

    op.create_table('school_progress',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('lesson_id', sa.Integer(), nullable=False),
    sa.Column('intervals', sa.JSON(), nullable=False),
    sa.Column('played', sa.Float(), nullable=False),
    sa.Column('position', sa.Float(), nullable=False),
    sa.Column('complete', sa.Boolean(), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('current_session_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['current_session_id'], ['school_watch_sessions.id'], name=op.f('fk_school_progress_current_session_id_school_watch_sessions'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lesson_id'], ['school_lessons.id'], name=op.f('fk_school_progress_lesson_id_school_lessons'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_school_progress_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_school_progress')),
    sa.UniqueConstraint('user_id', 'lesson_id', name='uq_school_progress_user_lesson')
    )
    with op.batch_alter_table('school_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_progress_lesson_id'), ['lesson_id'], unique=False)
        batch_op.create_index('ix_school_progress_user_updated', ['user_id', 'updated_at'], unique=False)

    append_only_ledger()


# The ledger is append-only in the database itself: corrections are reversing entries.
LEDGER_GUARD_PG = """
CREATE FUNCTION school_credit_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'school_credit_entries is append-only: add a reversing entry instead';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER school_credit_entries_no_update BEFORE UPDATE OR DELETE ON school_credit_entries
    FOR EACH ROW EXECUTE FUNCTION school_credit_entries_append_only();
"""
LEDGER_GUARD_SQLITE = [
    """CREATE TRIGGER school_credit_entries_no_update BEFORE UPDATE ON school_credit_entries
    BEGIN SELECT RAISE(ABORT, 'school_credit_entries is append-only: add a reversing entry instead'); END""",
    """CREATE TRIGGER school_credit_entries_no_delete BEFORE DELETE ON school_credit_entries
    BEGIN SELECT RAISE(ABORT, 'school_credit_entries is append-only: add a reversing entry instead'); END""",
]


def append_only_ledger():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LEDGER_GUARD_PG)
    else:
        for statement in LEDGER_GUARD_SQLITE:
            op.execute(statement)


def drop_ledger_guard():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS school_credit_entries_no_update ON school_credit_entries")
        op.execute("DROP FUNCTION IF EXISTS school_credit_entries_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS school_credit_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS school_credit_entries_no_delete")


def downgrade():
    drop_ledger_guard()
    with op.batch_alter_table('school_progress', schema=None) as batch_op:
        batch_op.drop_index('ix_school_progress_user_updated')
        batch_op.drop_index(batch_op.f('ix_school_progress_lesson_id'))

    op.drop_table('school_progress')
    with op.batch_alter_table('school_watch_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_watch_sessions_user_id'))
        batch_op.drop_index(batch_op.f('ix_school_watch_sessions_lesson_id'))

    op.drop_table('school_watch_sessions')
    with op.batch_alter_table('school_quiz_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_quiz_questions_quiz_id'))

    op.drop_table('school_quiz_questions')
    with op.batch_alter_table('school_quiz_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_quiz_attempts_user_id'))
        batch_op.drop_index('ix_school_quiz_attempts_quiz_user')

    op.drop_table('school_quiz_attempts')
    with op.batch_alter_table('school_question_options', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_question_options_question_id'))

    op.drop_table('school_question_options')
    with op.batch_alter_table('school_lesson_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_lesson_attachments_lesson_id'))

    op.drop_table('school_lesson_attachments')
    with op.batch_alter_table('school_deadline_reminders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_deadline_reminders_user_id'))

    op.drop_table('school_deadline_reminders')
    with op.batch_alter_table('school_quizzes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_quizzes_course_id'))

    op.drop_table('school_quizzes')
    with op.batch_alter_table('school_questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_questions_fingerprint'))
        batch_op.drop_index(batch_op.f('ix_school_questions_course_id'))
        batch_op.drop_index(batch_op.f('ix_school_questions_category_id'))

    op.drop_table('school_questions')
    with op.batch_alter_table('school_lessons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_lessons_course_id'))
        batch_op.drop_index(batch_op.f('ix_school_lessons_asset_id'))

    op.drop_table('school_lessons')
    with op.batch_alter_table('school_enrollments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_enrollments_course_id'))

    op.drop_table('school_enrollments')
    with op.batch_alter_table('school_course_completions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_course_completions_course_id'))

    op.drop_table('school_course_completions')
    with op.batch_alter_table('school_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_assignments_course_id'))
        batch_op.drop_index(batch_op.f('ix_school_assignments_branch_id'))

    op.drop_table('school_assignments')
    op.drop_table('school_credit_rules')
    with op.batch_alter_table('school_credit_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_school_credit_entries_user_award')
        batch_op.drop_index('ix_school_credit_entries_user_year')

    op.drop_table('school_credit_entries')
    with op.batch_alter_table('school_courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_courses_published'))
        batch_op.drop_index(batch_op.f('ix_school_courses_category_id'))

    op.drop_table('school_courses')
    with op.batch_alter_table('school_categories', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_categories_parent_id'))

    op.drop_table('school_categories')
