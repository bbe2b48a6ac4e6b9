"""The slow path: deferred posts, the LLM judge, the moderator queue and its outbox."""
