"""`python -m mcucompile ...`: the same command line as the `mcucompile` script."""
from .cli import main

main(prog_name="mcucompile")
