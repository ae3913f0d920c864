"""The secure mode of the local broker: one SASL_SSL listener on 127.0.0.1 (PLAIN, SCRAM-SHA-256/512).

``LocalKafka(data_dir, secure=True)`` uses this. What it sets up in ``data_dir``:

- ``tls/``: a throwaway CA and a broker certificate for ``DNS:localhost`` and
  ``IP:127.0.0.1`` (``infra.tlscerts``), so clients verify the hostname;
  clients trust ``tls/ca.pem`` only.
- ``users.json`` (mode 0600): the client users and their passwords, plus the
  broker's own inter-broker user. SCRAM credentials are written into the
  metadata log when the storage is formatted (``StorageTool format
  --add-scram``, the KRaft way: no extra step once running), so a restart on
  the same directory must keep the same users; PLAIN users are in the
  listener's JAAS config (``server.properties``, mode 0600).

The broker's controller listener stays PLAINTEXT on 127.0.0.1 (it serves only
the controller quorum, not clients); broker-to-broker traffic uses the
SASL_SSL listener with SCRAM-SHA-512. No authorizer: every authenticated
user may do everything (a test broker). On request (``tls_listener=True``) a
second client listener speaks TLS without SASL (protocol ``SSL``), to test
clients configured that way; anyone who trusts the CA may use it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.exceptions import StackError
from infra.tlscerts import LocalCerts, ensure_local_certs

PROTOCOL = "SASL_SSL"
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
DEFAULT_USER = "touchline"
BROKER_USER = "broker"  # the broker's own identity on its SASL_SSL listener (inter-broker)
USERS_FILE = "users.json"
# Passwords go into a JAAS string and a StorageTool argument: keep them free of quoting.
_SAFE = re.compile(r"^[A-Za-z0-9._~-]{1,128}$")


def _password() -> str:
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class SecureSetup:
    """Certificates, users and the broker settings of one secure broker."""

    tls: LocalCerts
    users: dict[str, str] = field(repr=False)
    broker_password: str = field(repr=False)

    @classmethod
    def prepare(cls, data_dir: Path, users: Mapping[str, str] | None) -> SecureSetup:
        """Certificates (made once) and users: given, or those of an earlier start, or one generated user."""
        path = data_dir / USERS_FILE
        stored: dict[str, Any] | None = None
        if path.exists():
            try:
                stored = json.loads(path.read_text())
            except ValueError:
                raise StackError(f"{path} is not valid JSON: remove the broker directory {data_dir}") from None
        formatted = (data_dir / "data" / "meta.properties").exists()
        if stored is not None and users is not None and dict(users) != stored["users"] and formatted:
            raise StackError(
                f"the broker in {data_dir} was formatted with other SCRAM users ({sorted(stored['users'])}); "
                "SCRAM users are fixed when the storage is formatted: use a new directory for other users")
        if users is None:
            users = stored["users"] if stored is not None else {DEFAULT_USER: _password()}
        for name, password in users.items():
            if name == BROKER_USER or not _SAFE.match(name) or not _SAFE.match(password):
                raise StackError(f"local broker user {name!r}: names and passwords must match {_SAFE.pattern} "
                                 f"(and {BROKER_USER!r} is the broker's own user)")
        broker_password = stored["broker"] if stored is not None else _password()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{USERS_FILE}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"users": dict(users), "broker": broker_password}, out, indent=2)
        os.replace(tmp, path)
        return cls(ensure_local_certs(data_dir / "tls"), dict(users), broker_password)

    def _all_users(self) -> dict[str, str]:
        return {BROKER_USER: self.broker_password, **self.users}

    def broker_config(self, port: int, controller_port: int, ssl_port: int | None = None) -> dict[str, str]:
        """server.properties entries replacing the PLAINTEXT listener by SASL_SSL (and TLS-only on ``ssl_port``)."""
        listener = PROTOCOL.lower()
        plain_users = " ".join(f'user_{name}="{password}"' for name, password in self._all_users().items())
        scram_login = "org.apache.kafka.common.security.scram.ScramLoginModule required"
        client_listeners = [f"{PROTOCOL}://127.0.0.1:{port}"]
        if ssl_port is not None:  # TLS without a login: anyone who trusts the CA may connect (tests only)
            client_listeners.append(f"SSL://127.0.0.1:{ssl_port}")
        return {
            "listeners": ",".join([*client_listeners, f"CONTROLLER://127.0.0.1:{controller_port}"]),
            "advertised.listeners": ",".join(client_listeners),
            "inter.broker.listener.name": PROTOCOL,
            "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{PROTOCOL}:{PROTOCOL},SSL:SSL",
            "sasl.enabled.mechanisms": ",".join(MECHANISMS),
            "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
            f"listener.name.{listener}.plain.sasl.jaas.config":
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                f'username="{BROKER_USER}" password="{self.broker_password}" {plain_users};',
            f"listener.name.{listener}.scram-sha-512.sasl.jaas.config":
                f'{scram_login} username="{BROKER_USER}" password="{self.broker_password}";',
            f"listener.name.{listener}.scram-sha-256.sasl.jaas.config": f"{scram_login};",
            # The broker's key and certificate chain in one PEM file; clients need not present one.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.tls.keystore_pem),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.tls.ca_file),
            "ssl.client.auth": "none",
            "ssl.endpoint.identification.algorithm": "https",
        }

    def format_args(self) -> list[str]:
        """``StorageTool format`` arguments that store every user's SCRAM credentials in the metadata log."""
        args: list[str] = []
        for name, password in self._all_users().items():
            for mechanism in SCRAM_MECHANISMS:
                args += ["--add-scram", f"{mechanism}=[name={name},password={password}]"]
        return args

    def user(self, name: str | None) -> tuple[str, str]:
        name = name or next(iter(self.users))
        try:
            return name, self.users[name]
        except KeyError:
            raise StackError(f"no user {name!r} on this broker (users: {sorted(self.users)})") from None

    def client_config(self, bootstrap: str, mechanism: str, user: str | None) -> dict[str, Any]:
        """librdkafka settings for a client of this broker."""
        name, password = self.user(user)
        return {"bootstrap.servers": bootstrap, "security.protocol": PROTOCOL, "sasl.mechanism": mechanism,
                "sasl.username": name, "sasl.password": password, "ssl.ca.location": str(self.tls.ca_file),
                "ssl.endpoint.identification.algorithm": "https"}

    def settings(self, bootstrap: str, mechanism: str | None, user: str | None) -> dict[str, Any]:
        """Touchline ``Settings`` fields for a client of this broker (``Settings(**these, ...)``).

        ``mechanism=None``: TLS without SASL (``bootstrap`` must be the TLS-only listener).
        """
        if mechanism is None:
            return {"kafka_bootstrap_servers": bootstrap, "kafka_security_protocol": "SSL",
                    "kafka_ssl_cafile": self.tls.ca_file}
        name, password = self.user(user)
        return {"kafka_bootstrap_servers": bootstrap, "kafka_security_protocol": PROTOCOL,
                "kafka_sasl_mechanism": mechanism, "kafka_sasl_username": name, "kafka_sasl_password": password,
                "kafka_ssl_cafile": self.tls.ca_file}
