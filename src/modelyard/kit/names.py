"""The spelling of names and aliases, as regular expressions without anchors.

Plain constants that import nothing, so that schemas (which the Python client imports) and
:mod:`modelyard.kit.refs` (which parses references) share one definition.
"""

NAME_PATTERN = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,199}"
"""A model, dataset, target or deployment name."""
ALIAS_PATTERN = r"[A-Za-z][A-Za-z0-9_-]{0,63}"
"""A version alias (``production``)."""
