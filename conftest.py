"""Shared fixtures: people in each role, an API client with a token, and the system actor."""
