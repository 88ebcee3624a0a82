"""Where the cleanup deletes: the registry as the reconcile reaches it
(``REGBRIDGE_REGISTRY_*``), one request at a time, at most ``REGBRIDGE_CLEANUP_MAX_RPS``
requests a second. Read by ``registry-consumer cleanup apply`` and by the dashboard (its
cleanup apply), so both delete the same way; nothing of Kafka or of a server is imported here."""

from __future__ import annotations

from common.contract import CLEANUP_USER_AGENT
from common.environ import Environ
from consumers.registry_api import RegistrySettings

DEFAULT_MAX_RPS = 5.0


def registry_settings(env: Environ) -> RegistrySettings:
    """The registry as the reconcile reaches it, one request at a time, at the cleanup's rate."""
    return RegistrySettings.from_environ(
        env,
        user_agent=CLEANUP_USER_AGENT,
        concurrency=1,
        max_rps=env.number("CLEANUP_MAX_RPS", DEFAULT_MAX_RPS, minimum=0.0),
    )
