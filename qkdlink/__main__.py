"""`python -m qkdlink` runs the command line."""

from qkdlink.cli import main

raise SystemExit(main())
