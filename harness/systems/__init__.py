"""Built-in systems. Each is declared as an entry point in ``pyproject.toml`` like any plugin."""
