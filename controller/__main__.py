"""`python -m controller`: the citypulse CLI."""

import sys

from controller.cli import main

sys.exit(main())
