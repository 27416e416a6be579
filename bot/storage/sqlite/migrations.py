"""SQLite schema migrations, oldest first. Never edit a released entry: append a new one.

`PRAGMA user_version` holds how many have been applied. Each entry runs in its own
transaction. (Numbered SQL lists rather than Alembic: the schema is small, there is
no ORM whose models Alembic could compare against, and the two backends keep their
own lists side by side, each in its own SQL dialect; tests/test_storage_backends.py checks
that both end up with the same tables and columns.)
"""

from __future__ import annotations

from typing import Final

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: users, their conversation, their checks, answers and assessments.
    (
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            external_id TEXT NOT NULL,
            language TEXT NOT NULL DEFAULT 'en',
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (channel, external_id)
        )
        """,
        """
        CREATE TABLE checks (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            flow TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled')),
            started_at TEXT NOT NULL,
            finished_at TEXT
        )
        """,
        "CREATE INDEX checks_by_user ON checks (user_id, id)",
        """
        CREATE TABLE conversations (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            check_id INTEGER REFERENCES checks(id) ON DELETE SET NULL,
            state TEXT,
            step INTEGER NOT NULL DEFAULT 0,
            history TEXT NOT NULL DEFAULT '[]',
            pending TEXT NOT NULL DEFAULT '[]',
            result TEXT,
            updated_at TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE answers (
            check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            answered_at TEXT NOT NULL,
            PRIMARY KEY (check_id, key)
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE assessments (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            check_id INTEGER REFERENCES checks(id) ON DELETE CASCADE,
            urgency TEXT NOT NULL,
            reasons TEXT NOT NULL,
            ball_release_allowed INTEGER NOT NULL,
            routine TEXT,
            created_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX assessments_by_user ON assessments (user_id, id)",
    ),
    # 2: at-most-once inputs and at-least-once replies, for fronts that can crash mid-send.
    (
        """
        CREATE TABLE inbox (
            key TEXT PRIMARY KEY,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            received_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX inbox_by_user ON inbox (user_id)",
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            payload TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            sent_at TEXT
        )
        """,
        "CREATE INDEX outbox_unsent ON outbox (user_id, id) WHERE sent_at IS NULL",
        """
        CREATE TABLE transport_state (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            question_message_id INTEGER
        )
        """,
    ),
    # 3: reminders, sessions, check-ins and the plan; time zones; outbox leases; a flow per conversation.
    (
        "ALTER TABLE users ADD COLUMN timezone TEXT",
        "ALTER TABLE users ADD COLUMN quiet_start TEXT NOT NULL DEFAULT '22:00'",
        "ALTER TABLE users ADD COLUMN quiet_end TEXT NOT NULL DEFAULT '07:00'",
        "ALTER TABLE conversations ADD COLUMN flow TEXT NOT NULL DEFAULT 'symptom_check'",
        "ALTER TABLE conversations ADD COLUMN context TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE outbox ADD COLUMN lease_until TEXT",
        """
        CREATE TABLE reminders (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('session', 'weekly_checkin', 'day_after_checkin', 'snooze')),
            days TEXT NOT NULL,
            local_time TEXT NOT NULL,
            timezone TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('active', 'paused', 'finished')),
            due_at TEXT,
            ref_session INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )
        """,
        "CREATE INDEX reminders_due ON reminders (due_at) WHERE status = 'active'",
        "CREATE INDEX reminders_by_user ON reminders (user_id)",
        """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            reminder_id INTEGER REFERENCES reminders(id) ON DELETE SET NULL,
            occurrence TEXT NOT NULL,
            routine TEXT,
            outcome TEXT NOT NULL CHECK (outcome IN ('sent', 'done', 'skipped', 'snoozed', 'hurt', 'missed')),
            hurt_area TEXT,
            hurt_pain INTEGER,
            hurt_settled INTEGER,
            settled_next_morning INTEGER,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            UNIQUE (reminder_id, occurrence)
        )
        """,
        "CREATE INDEX sessions_by_user ON sessions (user_id, occurrence)",
        """
        CREATE TABLE checkins (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            reminder_id INTEGER REFERENCES reminders(id) ON DELETE SET NULL,
            kind TEXT NOT NULL CHECK (kind IN ('day_after', 'weekly')),
            occurrence TEXT NOT NULL,
            pain_now INTEGER,
            pain_worst INTEGER,
            settled INTEGER,
            new_flags TEXT,
            answered_at TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (reminder_id, occurrence)
        )
        """,
        "CREATE INDEX checkins_by_user ON checkins (user_id, occurrence)",
        """
        CREATE TABLE plans (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            routine TEXT NOT NULL,
            baseline_pain INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            level TEXT NOT NULL DEFAULT 'standard' CHECK (level IN ('standard', 'eased', 'progressed')),
            ball_allowed INTEGER NOT NULL,
            forbidden_tags TEXT NOT NULL DEFAULT '[]',
            last_decision TEXT,
            updated_at TEXT NOT NULL
        )
        """,
    ),
    # 4: the plan's life (state, reference, what it withdrew) and its history; which exercise hurt.
    (
        """
        CREATE TABLE plans_v4 (
            user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
            state TEXT NOT NULL CHECK (state IN ('active', 'eased', 'paused', 'ended')),
            routine TEXT NOT NULL,
            level INTEGER NOT NULL DEFAULT 0,
            baseline_pain INTEGER,
            reference_pain INTEGER,
            reference_at TEXT NOT NULL,
            started_at TEXT NOT NULL,
            assessed_ball INTEGER NOT NULL,
            ball_withdrawn INTEGER NOT NULL,
            forbidden_tags TEXT NOT NULL DEFAULT '[]',
            paused_for TEXT,
            last_referral_at TEXT,
            updated_at TEXT NOT NULL
        )
        """,
        # Existing plans keep what they withdrew; a plan whose person's latest result was
        # URGENT or EMERGENCY is paused for review (its reminders had been paused already).
        """
        INSERT INTO plans_v4 (user_id, state, routine, level, baseline_pain, reference_pain, reference_at,
            started_at, assessed_ball, ball_withdrawn, forbidden_tags, paused_for, updated_at)
        SELECT p.user_id,
            CASE WHEN json_extract(c.result, '$.urgency') IN ('URGENT', 'EMERGENCY') THEN 'paused'
                 WHEN p.level = 'eased' THEN 'eased' ELSE 'active' END,
            p.routine, 0, p.baseline_pain, p.baseline_pain, p.started_at, p.started_at,
            p.ball_allowed, CASE WHEN p.level = 'eased' OR p.ball_allowed = 0 THEN 1 ELSE 0 END,
            p.forbidden_tags,
            CASE WHEN json_extract(c.result, '$.urgency') IN ('URGENT', 'EMERGENCY') THEN json_object(
                'urgency', json_extract(c.result, '$.urgency'),
                'reasons', json(coalesce(json_extract(c.result, '$.reasons'), '[]')),
                'source', 'result') END,
            p.updated_at
        FROM plans p LEFT JOIN conversations c ON c.user_id = p.user_id
        """,
        # People with a result but no plan yet (they never set reminders) get the plan that
        # result implies, so /routine keeps showing them what it showed before.
        """
        INSERT INTO plans_v4 (user_id, state, routine, level, baseline_pain, reference_pain, reference_at,
            started_at, assessed_ball, ball_withdrawn, forbidden_tags, paused_for, updated_at)
        SELECT c.user_id,
            CASE WHEN json_extract(c.result, '$.urgency') IN ('URGENT', 'EMERGENCY') THEN 'paused' ELSE 'active' END,
            coalesce(json_extract(c.result, '$.routine'), 'desk-sitter'), 0, NULL, NULL, c.updated_at,
            c.updated_at, coalesce(json_extract(c.result, '$.ball_release_allowed'), 0),
            CASE WHEN json_extract(c.result, '$.urgency') IN ('URGENT', 'EMERGENCY') THEN 1 ELSE 0 END,
            coalesce(json_extract(c.result, '$.forbidden_tags'), '[]'),
            CASE WHEN json_extract(c.result, '$.urgency') IN ('URGENT', 'EMERGENCY') THEN json_object(
                'urgency', json_extract(c.result, '$.urgency'),
                'reasons', json(coalesce(json_extract(c.result, '$.reasons'), '[]')),
                'source', 'result') END,
            c.updated_at
        FROM conversations c
        WHERE c.result IS NOT NULL AND c.user_id NOT IN (SELECT user_id FROM plans)
        """,
        "DROP TABLE plans",
        "ALTER TABLE plans_v4 RENAME TO plans",
        """
        CREATE TABLE plan_events (
            id INTEGER PRIMARY KEY,
            user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            event TEXT NOT NULL,
            from_state TEXT NOT NULL,
            to_state TEXT NOT NULL,
            reasons TEXT NOT NULL DEFAULT '[]',
            detail TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX plan_events_by_user ON plan_events (user_id, id)",
        "ALTER TABLE sessions ADD COLUMN hurt_exercise TEXT",
        # Which warning-sign screen of a weekly check-in the person is on.
        "ALTER TABLE checkins ADD COLUMN flag_stage TEXT",
        # Whether the person chose these themselves (else the content default, or the
        # language their Telegram app reports, applies).
        "ALTER TABLE users ADD COLUMN quiet_set INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE users ADD COLUMN language_set INTEGER NOT NULL DEFAULT 0",
        # Reminders paused by an urgent result are now held by the plan's state instead;
        # the person's own pauses are kept.
        """
        UPDATE reminders SET status = 'active' WHERE status = 'paused' AND user_id IN
            (SELECT user_id FROM plans WHERE state = 'paused')
        """,
    ),
    # 5: guided sessions (their progress as JSON on the session they belong to), and the
    # transport's ids of pictures already uploaded (each picture goes up once).
    (
        "ALTER TABLE sessions ADD COLUMN guide TEXT",
        """
        CREATE TABLE media (
            channel TEXT NOT NULL,
            key TEXT NOT NULL,
            file_id TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel, key)
        ) WITHOUT ROWID
        """,
    ),
    # 6: the broadcast pace every process on the database shares (bot/core/ports.py: BroadcastStore).
    (
        """
        CREATE TABLE broadcast_pace (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            next_at REAL NOT NULL
        )
        """,
    ),
)
