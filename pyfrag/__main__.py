"""`python -m pyfrag`: see pyfrag.cli."""

import sys

from .cli import main

sys.exit(main())
