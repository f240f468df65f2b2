"""``python -m initlab``: the command line."""

from .cli import main

main()
