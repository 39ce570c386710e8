"""Test support code shared by every package's tests."""
