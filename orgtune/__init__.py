"""orgtune: teach an AI assistant your organisation's documents, from Slack."""

__version__ = "0.1.0"
