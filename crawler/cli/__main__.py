"""`python -m crawler.cli`: the same as the `newswatch` command."""

from . import main

main()
