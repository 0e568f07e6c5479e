"""Users, roles, password login, browser sessions and API tokens."""
