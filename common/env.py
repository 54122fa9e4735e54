"""The strict readers pypi_site/settings.py builds the settings with.

Each reads one environment variable (or parses one value) and refuses a
malformed one with ImproperlyConfigured naming the variable, instead of
guessing. Nothing here reads django.conf.settings: this runs while the
settings are being made.
"""

import ipaddress
import json
import os
import re
import secrets
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

import dj_database_url
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.core.exceptions import ImproperlyConfigured


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer.") from None
    if number < 0:
        raise ImproperlyConfigured(f"{name}={value!r} must not be negative.")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def env_rate(name: str, default: str) -> tuple[int, int]:
    """A rate limit, "<hits>/<seconds>": at most that many hits per window."""
    value = os.environ.get(name) or default
    match = re.fullmatch(r"\s*([0-9]+)/([0-9]+)\s*", value)
    if match is None or int(match[1]) < 1 or int(match[2]) < 1:
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a rate; use <hits>/<seconds>, both at least 1, e.g. 10/300."
        )
    return int(match[1]), int(match[2])


def env_secret(name: str) -> str:
    """A secret from ``name``, or from the file ``<name>_FILE`` names.

    The file form keeps the secret out of the environment that every child
    process and crash report sees: Docker and Kubernetes secrets, systemd
    credentials and password managers all hand secrets over as files. The
    value is the file's content without its final newline (``echo`` adds
    one). Both set is refused rather than one silently preferred; empty
    counts as unset, as a secret is never the empty string.
    """
    value = os.environ.get(name, "")
    path = os.environ.get(f"{name}_FILE", "")
    if not path:
        return value
    if value:
        raise ImproperlyConfigured(f"{name} and {name}_FILE are both set; set only one of them.")
    try:
        content = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read {path!r}: {exc.strerror}.") from None
    except UnicodeDecodeError:
        raise ImproperlyConfigured(f"{name}_FILE: {path!r} is not UTF-8 text.") from None
    value = content.removesuffix("\n")
    if not value:
        # An empty file is a secret that failed to arrive (a mount not yet
        # made), not a wish to leave the setting unset.
        raise ImproperlyConfigured(f"{name}_FILE: {path!r} is empty.")
    return value


def env_networks(name: str) -> list[str]:
    """Comma-separated IP addresses or networks, each as a network ("10.0.0.0/8")."""
    networks = []
    for item in env_list(name, []):
        try:
            networks.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {item!r} is not an IP address or network (e.g. 10.0.0.0/8)."
            ) from None
    return networks


def loopback_only(hosts: list[str]) -> bool:
    """Whether every host name is one of this machine's loopback names."""
    loopback = {"127.0.0.1", "localhost", "[::1]", "::1"}
    return all(host in loopback or host.endswith(".localhost") for host in hosts)


def generated_secret_key(directory: Path) -> str:
    """The key generated once into ``directory``/secret_key, made on first use.

    Only acceptable on one machine: several machines would each make their own
    and reject each other's signatures.
    """
    path = directory / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    directory.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    # O_EXCL so two processes starting at once agree on the first key written.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def database_url(name: str, url: str) -> dict:
    """Django's DATABASES entry for a database URL (dj-database-url's schemes)."""
    try:
        # Kept connections are checked before a request uses them: after a
        # database restart each thread's kept connection is dead, and without
        # the check its next request would fail once with a 500.
        return dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} is not a usable database URL: {exc}") from None


class SmtpServer(NamedTuple):
    host: str
    port: int
    user: str
    password: str
    use_ssl: bool
    use_tls: bool


def smtp_url(name: str, url: str) -> SmtpServer:
    """An SMTP server from ``smtp://``, ``smtps://`` (TLS from the start) or
    ``submission://`` (STARTTLS) with percent-encoded user and password."""
    parts = urlsplit(url)
    if parts.scheme not in {"smtp", "smtps", "submission"}:
        raise ImproperlyConfigured(f"{name} must be smtp://, smtps:// or submission://.")
    return SmtpServer(
        host=parts.hostname or "localhost",
        port=parts.port or {"smtp": 25, "smtps": 465, "submission": 587}[parts.scheme],
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        use_ssl=parts.scheme == "smtps",
        use_tls=parts.scheme == "submission",
    )


def secret_scanning_public_keys(value: str) -> dict[str, str]:
    """SECRET_SCANNING_PUBLIC_KEYS: the JSON itself, or the path of a file
    holding it. The JSON maps key identifier to PEM public key (ECDSA):
    ``{"<key identifier>": "-----BEGIN PUBLIC KEY-----\\n..."}``. The document
    GitHub publishes (https://api.github.com/meta/public_keys/secret_scanning,
    ``{"public_keys": [{"key_identifier": ..., "key": ...}, ...]}``) is accepted
    as it is, so a downloaded copy can be pointed at directly. Empty: the
    disclosure endpoint is off (404)."""
    name = "SECRET_SCANNING_PUBLIC_KEYS"
    value = value.strip()
    if not value:
        return {}
    if not value.startswith("{"):
        try:
            value = Path(value).read_text()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}: cannot read {value!r}: {exc}") from None
    try:
        data = json.loads(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} is not valid JSON.") from None
    if isinstance(data, dict) and "public_keys" in data:
        try:
            data = {entry["key_identifier"]: entry["key"] for entry in data["public_keys"]}
        except (TypeError, KeyError):
            raise ImproperlyConfigured(
                f"{name}: every public_keys entry needs key_identifier and key."
            ) from None
    if not isinstance(data, dict) or not all(
        isinstance(key_id, str) and isinstance(pem, str) for key_id, pem in data.items()
    ):
        raise ImproperlyConfigured(f"{name} must map key identifiers to PEM public keys.")
    for key_id, pem in data.items():
        try:
            key = load_pem_public_key(pem.encode())
        except (ValueError, UnsupportedAlgorithm):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not a PEM public key.") from None
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise ImproperlyConfigured(f"{name}: key {key_id!r} is not an ECDSA key.")
    return data
