"""The package version, in one place: pyproject.toml reads it from here (scikit-build-core regex provider)."""
__version__ = "0.1.0"
