"""``python -m nb2pipe`` runs the ``nb2pipe`` command."""

from nb2pipe.cli import main

main()
