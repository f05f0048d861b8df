"""`python -m rcsbatch` runs the command line."""

from rcsbatch.process import main

main()
