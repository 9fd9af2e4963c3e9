"""The package version: the one source (pyproject reads it; the resume fingerprint includes it)."""

__version__ = "0.1.0"
