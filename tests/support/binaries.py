"""Test support: binaries."""
