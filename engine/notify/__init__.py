"""Notifications: settings, quiet hours, message templates and delivery channels (no database state here)."""
