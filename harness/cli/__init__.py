"""Command-line interface: ``python -m harness <command>``. Only this package prints."""
