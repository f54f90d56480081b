"""The cap integration: translates between the outside format and our schemas."""
