import sys
from pathlib import Path

# tests/ holds shared helpers (tests/helpers.py); pytest's default import mode puts this folder on sys.path.
sys.path.insert(0, str(Path(__file__).parent))

import os

from hypothesis import settings

# CI replays the same examples every run (main stays green or red for a reason); locally they vary.
settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
