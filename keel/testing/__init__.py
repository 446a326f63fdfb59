"""Test support shared by every app (pytest plugins); never imported by running code."""
