"""Test support: imagebuilder."""
