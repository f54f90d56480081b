"""Tests of the dispatch capability."""
