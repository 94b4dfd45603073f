"""Graders (pure functions ``(item, response) -> Score``) and run-level metrics."""
