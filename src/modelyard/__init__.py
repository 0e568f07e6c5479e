"""modelyard: self-hosted model management."""

__version__ = "0.1.0"
