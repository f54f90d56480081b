"""Mutual aid (共助): neighbours who need help matched to volunteers, fairly and privately."""
