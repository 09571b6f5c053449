"""The Slack-facing process: acks within 3 s, writes rows, enqueues jobs by id."""
