"""``python -m initlab``: the command line, as the ``initlab`` command."""

from initlab.cli import main

if __name__ == "__main__":
    main()
