"""Throwaway certificates for TLS tests: one CA made per test (trustme), a server
certificate for 127.0.0.1 and localhost, and a client certificate, written as PEM files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Certificates:
    ca_file: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca_file: Path  # a CA that signed none of the above


def make_certificates(folder: Path) -> Certificates:
    folder.mkdir(parents=True, exist_ok=True)
    ca, other = trustme.CA(), trustme.CA()
    server = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("registry.example", common_name="registry")
    paths = Certificates(
        ca_file=folder / "ca.pem",
        server_cert=folder / "server.pem",
        server_key=folder / "server.key",
        client_cert=folder / "client.pem",
        client_key=folder / "client.key",
        other_ca_file=folder / "other-ca.pem",
    )
    ca.cert_pem.write_to_path(str(paths.ca_file))
    other.cert_pem.write_to_path(str(paths.other_ca_file))
    server.private_key_pem.write_to_path(str(paths.server_key))
    client.private_key_pem.write_to_path(str(paths.client_key))
    for blob in server.cert_chain_pems:
        blob.write_to_path(str(paths.server_cert), append=True)
    for blob in client.cert_chain_pems:
        blob.write_to_path(str(paths.client_cert), append=True)
    return paths
