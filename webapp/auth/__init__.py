"""Authentication: login with a password (Flask-Login), an OIDC path (Pro Santé Connect), API tokens."""
