"""``python -m modelyard``: the same CLI as the ``modelyard`` command."""

from modelyard.cli import app

app(prog_name="modelyard")
