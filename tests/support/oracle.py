"""Test support: oracle."""
