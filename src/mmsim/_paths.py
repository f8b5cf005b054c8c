"""Where the package's bundled files are: inside the installed package, or, in a developer's editable install,
the source checkout around ``src/mmsim`` (scenarios/, benchmarks/results/)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

PACKAGE_DIR = Path(__file__).resolve().parent


def checkout_root() -> Optional[Path]:
    """The repository root when this package is imported from its ``src/`` checkout, else None."""
    root = PACKAGE_DIR.parent.parent
    if PACKAGE_DIR.parent.name == "src" and (root / "pyproject.toml").is_file():
        return root
    return None
