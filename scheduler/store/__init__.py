"""Persistence: typed SQLAlchemy models, the engine and session factory, the unit of work."""
