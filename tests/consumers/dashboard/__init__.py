"""Tests of the dashboard (consumers/dashboard): API, page, OpenAPI, CLI."""
