"""Tests of the dashboard (consumers/dashboard)."""
