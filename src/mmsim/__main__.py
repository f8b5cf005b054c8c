"""``python -m mmsim ...``: the same command line as the ``mmsim`` script."""
import sys

from mmsim.cli import main

sys.exit(main())
