"""`python -m rcsbatch` runs the command line."""

from rcsbatch.cli import main

main()
