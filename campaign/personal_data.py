"""Personal data at rest: canonical email addresses, their keyed digests, their encryption,
and digests of IP addresses. Nothing here stores anything; services call these functions."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from dataclasses import dataclass

import idna
from cryptography.fernet import Fernet
from flask import current_app, request


@dataclass(frozen=True)
class MailboxRule:
    """How a provider reads the part before the @: what follows `tag_separator` is a tag
    that reaches the same mailbox (sub-addressing); `ignore_dots`, dots do not count."""

    canonical_domain: str
    tag_separator: str = "+"
    ignore_dots: bool = False


def _rules(domains: str, rule: MailboxRule | None = None) -> dict[str, MailboxRule]:
    return {domain: rule or MailboxRule(domain) for domain in domains.split()}


# Providers whose help pages document "+tag" sub-addressing: these spellings are one mailbox.
# Other domains keep dots and tags, since for them a.b@ and a+b@ may be two people. (Yahoo's
# "base-keyword" addresses name a chosen base, not the mailbox: they cannot be folded.)
MAILBOX_RULES: dict[str, MailboxRule] = {
    **_rules("gmail.com googlemail.com", MailboxRule("gmail.com", "+", ignore_dots=True)),
    # Microsoft (Outlook.com, Hotmail, Live, MSN)
    **_rules("outlook.com outlook.fr hotmail.com hotmail.fr live.com live.fr msn.com"),
    # Apple iCloud
    **_rules("icloud.com me.com mac.com"),
    # Proton, Fastmail, Zoho, Yandex, Posteo, mailbox.org, HEY
    **_rules("proton.me protonmail.com protonmail.ch pm.me"),
    **_rules("fastmail.com fastmail.fm"),
    **_rules("zoho.com zohomail.com"),
    **_rules("yandex.ru yandex.com ya.ru"),
    **_rules("posteo.de posteo.net mailbox.org hey.com"),
}


def canonical_domain(domain: str) -> str:
    """The domain in its ASCII form: an internationalised domain and its punycode spelling
    ("exämple.fr", "xn--exmple-cua.fr") are one domain."""
    domain = domain.rstrip(".")
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return domain  # not a valid domain: the forms refuse it; keep it comparable


def canonical_email(address: str) -> str:
    """The form under which two spellings of one mailbox compare equal."""
    address = unicodedata.normalize("NFKC", address).strip().lower()
    local, _, domain = address.rpartition("@")
    domain = canonical_domain(domain)
    rule = MAILBOX_RULES.get(domain)
    if rule:
        if rule.tag_separator:
            local = local.split(rule.tag_separator, 1)[0]
        if rule.ignore_dots:
            local = local.replace(".", "")
        domain = rule.canonical_domain
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
