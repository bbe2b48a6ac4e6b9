"""``python -m modgate`` runs the CLI."""

from modgate.cli import app

app()
