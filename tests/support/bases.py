"""Test support: bases."""
