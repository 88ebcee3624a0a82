"""The webhook relay: every subscription in ``REGBRIDGE_RELAY_CONFIG`` gets the events it asks
for, POSTed to its URL, signed, retried, and dead-lettered when it fails for good."""
