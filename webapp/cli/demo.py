"""CLI: demo data."""
COMMANDS: list = []
