"""What an operator sees: health and readiness, Prometheus metrics, one log line per
update and per proactive send, and backups."""
