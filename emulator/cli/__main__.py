"""``python -m emulator.cli``: the ``kmodsim`` command without the installed script."""

import sys

from . import main

sys.exit(main())
