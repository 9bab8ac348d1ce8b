"""Lifecycle events of a complaint after it was received (steps 2-13 of the procedure)."""
