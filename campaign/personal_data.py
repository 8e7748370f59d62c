"""Personal data at rest: canonical email addresses, their keyed digests, their encryption,
and digests of IP addresses. Nothing here stores anything; services call these functions."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata

from cryptography.fernet import Fernet
from flask import current_app, request

# Providers that ignore dots and +tags in the local part: these addresses are one mailbox.
# Other domains keep dots and tags, since for them a.b@ and ab@ may be two people.
MAILBOX_RULES: dict[str, dict[str, object]] = {
    "gmail.com": {"canonical_domain": "gmail.com", "ignore_dots": True, "tag_separator": "+"},
    "googlemail.com": {"canonical_domain": "gmail.com", "ignore_dots": True, "tag_separator": "+"},
}


def canonical_email(address: str) -> str:
    """The form under which two spellings of one mailbox compare equal."""
    address = unicodedata.normalize("NFKC", address).strip().lower()
    local, _, domain = address.rpartition("@")
    domain = domain.rstrip(".")
    rule = MAILBOX_RULES.get(domain)
    if rule:
        separator = rule["tag_separator"]
        if separator:
            local = local.split(str(separator), 1)[0]
        if rule["ignore_dots"]:
            local = local.replace(".", "")
        domain = str(rule["canonical_domain"])
    return f"{local}@{domain}"


def email_digest(address: str) -> str:
    """HMAC-SHA256 of the canonical address under the server key: unique per mailbox."""
    key = current_app.config["EMAIL_DIGEST_KEY"].encode()
    return hmac.new(key, canonical_email(address).encode(), hashlib.sha256).hexdigest()


def email_domain_digest(address: str) -> str:
    """Keyed digest of the canonical domain, so moderators can act on all the signatures
    of a domain without the addresses being readable."""
    key = current_app.config["EMAIL_DIGEST_KEY"].encode()
    domain = canonical_email(address).rpartition("@")[2]
    return hmac.new(key, b"domain:" + domain.encode(), hashlib.sha256).hexdigest()


def register_badge_digest(register: str, identifier: str) -> str:
    """Keyed digest of a register entry (an RPPS number, an official's id): which entry a
    signature's badge comes from, without the number being readable on the signature."""
    key = current_app.config["EMAIL_DIGEST_KEY"].encode()
    return hmac.new(key, f"badge:{register}:{identifier}".encode(), hashlib.sha256).hexdigest()


def encrypt_email(address: str) -> bytes:
    """Encrypt the address as typed (trimmed), to send mail to it later."""
    fernet = Fernet(current_app.config["EMAIL_ENCRYPTION_KEY"].encode())
    return fernet.encrypt(unicodedata.normalize("NFKC", address).strip().encode())


def decrypt_email(ciphertext: bytes) -> str:
    """The address, for sending mail only."""
    fernet = Fernet(current_app.config["EMAIL_ENCRYPTION_KEY"].encode())
    return fernet.decrypt(ciphertext).decode()


def ip_digest(ip: str) -> str:
    """A keyed hash of an IP address, for rate limits and fraud review."""
    key = current_app.config["IP_HASH_KEY"].encode()
    return hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]


def request_ip_digest() -> str:
    """The digest of the current client's address (after ProxyFix, if configured)."""
    return ip_digest(request.remote_addr or "unknown")
