"""The store: SQLAlchemy Core tables and small functions ``(conn, ...) -> domain object``."""
