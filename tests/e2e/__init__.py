"""End-to-end tests against a real registry (the Debian ``docker-registry``)."""
