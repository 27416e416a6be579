"""The plan after a check: its life, its rules, its reminders and check-ins."""
