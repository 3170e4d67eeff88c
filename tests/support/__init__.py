"""Helpers that several test modules use; a test module never imports another test module."""
