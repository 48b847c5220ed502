"""Exact figures for KOCs and operators, counted from PostgreSQL (never from Redis)."""
