"""Domain-free helpers: database engine and session, errors, pagination, time, security."""
