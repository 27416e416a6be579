"""Schema migrations, oldest first. Never edit a released entry: append a new one.

`PRAGMA user_version` holds how many have been applied.
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
)
