"""Embedded infrastructure and process supervision for the development stack and the tests."""
