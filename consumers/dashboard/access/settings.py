"""The dashboard's access settings (``REGBRIDGE_DASHBOARD_*``, ``docs/security.md``):
tokens per role, the trusted reverse proxy, sessions, and the safe default.

With neither tokens nor a trusted proxy the dashboard is anonymous: allowed on a
loopback address (the demo, with a banner), refused on any other unless
``REGBRIDGE_DASHBOARD_ALLOW_ANONYMOUS=true``.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass, field

from common.environ import PREFIX, ConfigError, Environ
from consumers.dashboard.access.roles import Role

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MIN_TOKEN_LENGTH = 16
MIN_SECRET_LENGTH = 32
DEFAULT_SESSION_HOURS = 8.0
_V = PREFIX + "DASHBOARD_"


@dataclass(frozen=True, slots=True)
class ProxySettings:
    """Single sign-on through a reverse proxy (oauth2-proxy and the like): the user (and
    groups) it authenticated arrive in headers, believed only from ``trusted`` peers."""

    user_header: str = ""  # lower-case; "" turns the proxy off
    groups_header: str = ""
    trusted: tuple[Network, ...] = ()
    admin_users: frozenset[str] = frozenset()
    admin_groups: frozenset[str] = frozenset()
    viewer_users: frozenset[str] = frozenset()
    viewer_groups: frozenset[str] = frozenset()

    @classmethod
    def from_environ(cls, env: Environ) -> ProxySettings:
        proxy = cls(
            user_header=env.text("DASHBOARD_TRUSTED_USER_HEADER").lower(),
            groups_header=env.text("DASHBOARD_TRUSTED_GROUPS_HEADER").lower(),
            trusted=tuple(_network(text) for text in env.items("DASHBOARD_TRUSTED_PROXIES")),
            admin_users=frozenset(env.items("DASHBOARD_ADMIN_USERS")),
            admin_groups=frozenset(env.items("DASHBOARD_ADMIN_GROUPS")),
            viewer_users=frozenset(env.items("DASHBOARD_VIEWER_USERS")),
            viewer_groups=frozenset(env.items("DASHBOARD_VIEWER_GROUPS")),
        )
        proxy.check()
        return proxy

    @property
    def enabled(self) -> bool:
        return bool(self.user_header)

    def check(self) -> None:
        if self.enabled != bool(self.trusted):
            raise ConfigError(
                f"{_V}TRUSTED_USER_HEADER and {_V}TRUSTED_PROXIES go together: the header is believed "
                "only from the proxies' addresses"
            )
        if self.groups_header and not self.enabled:
            raise ConfigError(f"{_V}TRUSTED_GROUPS_HEADER needs {_V}TRUSTED_USER_HEADER")

    def trusts(self, address: str | None) -> bool:
        if address is None:
            return False
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(peer in network for network in self.trusted)

    def role_of(self, user: str, groups: frozenset[str]) -> Role | None:
        """Admins by name or group; viewers by name or group when either list is set, else
        every user the proxy let through; None: no role."""
        if user in self.admin_users or groups & self.admin_groups:
            return Role.ADMIN
        listed = self.viewer_users or self.viewer_groups
        if not listed or user in self.viewer_users or groups & self.viewer_groups:
            return Role.VIEWER
        return None


@dataclass(frozen=True, slots=True)
class AccessSettings:
    viewer_tokens: tuple[str, ...] = field(default=(), repr=False)
    admin_tokens: tuple[str, ...] = field(default=(), repr=False)
    proxy: ProxySettings = field(default_factory=ProxySettings)
    allow_anonymous: bool = False
    anonymous_role: Role = Role.VIEWER
    session_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32), repr=False)
    session_seconds: int = int(DEFAULT_SESSION_HOURS * 3600)
    secure_cookies: bool = False
    origins: tuple[str, ...] = ()

    @classmethod
    def from_environ(cls, env: Environ, *, tls: bool) -> AccessSettings:
        hours = env.number("DASHBOARD_SESSION_HOURS", DEFAULT_SESSION_HOURS, minimum=0.01)
        access = cls(
            viewer_tokens=env.secrets("DASHBOARD_TOKENS"),
            admin_tokens=env.secrets("DASHBOARD_ADMIN_TOKENS"),
            proxy=ProxySettings.from_environ(env),
            allow_anonymous=env.flag("DASHBOARD_ALLOW_ANONYMOUS"),
            anonymous_role=Role(env.choice("DASHBOARD_ANONYMOUS_ROLE", "viewer", ("viewer", "admin"))),
            session_secret=env.secret("DASHBOARD_SESSION_SECRET") or secrets.token_urlsafe(32),
            session_seconds=max(1, int(hours * 3600)),
            secure_cookies=env.flag("DASHBOARD_SECURE_COOKIES", tls),
            origins=tuple(o.rstrip("/").lower() for o in env.items("DASHBOARD_ORIGINS")),
        )
        access.check_tokens()
        return access

    @property
    def anonymous(self) -> bool:
        """Nothing to authenticate with: every request is the anonymous principal."""
        return not (self.viewer_tokens or self.admin_tokens or self.proxy.enabled)

    @property
    def signs_in_with_tokens(self) -> bool:
        return bool(self.viewer_tokens or self.admin_tokens)

    def check_tokens(self) -> None:
        for name, tokens in (("TOKENS", self.viewer_tokens), ("ADMIN_TOKENS", self.admin_tokens)):
            if any(len(token) < MIN_TOKEN_LENGTH for token in tokens):
                raise ConfigError(
                    f"{_V}{name}: every token must be at least {MIN_TOKEN_LENGTH} characters "
                    '(make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))")'
                )
        if set(self.viewer_tokens) & set(self.admin_tokens):
            raise ConfigError(f"a token is in both {_V}TOKENS and {_V}ADMIN_TOKENS: give it one role")
        if len(self.session_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{_V}SESSION_SECRET must be at least {MIN_SECRET_LENGTH} characters")
        for origin in self.origins:
            if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
                raise ConfigError(
                    f"{_V}ORIGINS: {origin!r} is not an origin like https://dashboard.example.com"
                )

    def check_address(self, host: str) -> None:
        """The safe default: anonymous only on loopback, unless allowed explicitly."""
        if self.anonymous and not self.allow_anonymous and not is_loopback(host):
            raise ConfigError(
                f"{_V}HOST={host} is not a loopback address and the dashboard has no authentication: "
                f"set {_V}TOKENS (or {_V}TOKENS_FILE), or {_V}TRUSTED_USER_HEADER with "
                f"{_V}TRUSTED_PROXIES, or {_V}ALLOW_ANONYMOUS=true"
            )


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _network(text: str) -> Network:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ConfigError(f"{_V}TRUSTED_PROXIES: {text!r} is not an address or CIDR") from None
    if network.prefixlen == 0:
        raise ConfigError(
            f"{_V}TRUSTED_PROXIES: {text!r} trusts every address; list the proxies' addresses or networks"
        )
    return network
