"""Forms the web app renders: JSON Schema work-item forms."""
