"""`python -m hvo_calc` runs the same command line as `hvo-calc`."""

from hvo_calc.cli import main

main()
