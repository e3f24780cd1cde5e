"""Anlauf: a volunteer-matching marketplace for integration work."""
