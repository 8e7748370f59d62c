"""Mail transport: how a message is written and handed to SMTP (or, in the embedded default,
to the outbox folder), and what an SMTP failure means for it.

Knows nothing of Tribune's domains: the outbox (campaign.mail.outbox) and the mailings'
sending jobs both send through it.

Flask-Mail (0.10) is kept for its message building and its extension, and overridden only
where it offers no setting; each override names the upstream reason:
- MailMessage._message: the email policy and the From and Subject headers;
- SMTPConnection.configure_host: a socket timeout, and the verdict tracking;
- SMTPConnection.__exit__: a failed QUIT after a message was accepted.
The body charset is a constructor argument (MailMessage's default), not an override, and
the process's email.charset registry is left as Flask-Mail set it.
"""

from __future__ import annotations

import contextlib
import email.charset
import email.message
import email.policy
import os
import re
import secrets
import smtplib
import uuid
from collections.abc import Iterable
from email.header import Header
from email.headerregistry import Address
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Protocol

import flask_mail
from flask import current_app, render_template
from flask_babel import force_locale

from campaign.clock import utcnow

# Our messages' charset: utf-8 with base64 bodies (a C encoder), as readable to every
# client. Flask-Mail registers utf-8 process-wide at import with no body encoding of its own
# (upstream pallets-eco/flask-mail#115, closed, asked for base64), which cost half the CPU
# of a letter in bench/campaign.py; a Charset object of our own, passed as Message(charset=)
# (MIMEText and Header take one), changes nothing for the rest of the process. Headers keep
# the shortest of Q and B encodings, as Flask-Mail's.
UTF8_BASE64 = email.charset.Charset("utf-8")
UTF8_BASE64.header_encoding = email.charset.SHORTEST
UTF8_BASE64.body_encoding = email.charset.BASE64

# Flask-Mail serialises with policy.SMTP, whose header classes parse once more every header
# Flask-Mail has already encoded: half of a mail worker's CPU per confirmation. compat32
# writes them as they are, with the same CRLF line ends.
SMTP_COMPAT32 = email.policy.compat32.clone(linesep="\r\n")

# SMTP replies often quote the recipient; logs and error columns must not.
ADDRESS_PATTERN = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")


class _EncodedHeader:
    """A header value already encoded (RFC 2047) and folded: compat32 writes it as is."""

    def __init__(self, folded: str) -> None:
        self.folded = folded

    def encode(self, linesep: str = "\n", maxlinelen: int | None = None) -> str:
        return self.folded.replace("\n", linesep)


@lru_cache(maxsize=256)
def _subject_header(subject: str) -> str | _EncodedHeader:
    """The Subject header's value, encoded once per subject: confirmations share a few."""
    if subject.isascii():
        return subject
    # Folded with "Subject: " counted, so that its first line stays on the header's line.
    return _EncodedHeader(Header(subject, "utf-8", header_name="Subject").encode())


def _from_header(sender: str | tuple[str, str]) -> str | _EncodedHeader | None:
    """The From header of a sender whose display name is not ASCII, folded by the modern
    email policy (None: Flask-Mail's own is right). Flask-Mail encodes the whole name as
    encoded-words cut at any character ("...via Tr" + "ibune"), on a line of its own:
    clients that keep the space between two encoded-words (Python's parser among them) show
    "Tr ibune". The modern policy encodes only the words that need it and folds between
    words."""
    name, address = sender if isinstance(sender, tuple) else parseaddr(sender)
    if name.isascii():
        return None
    header_name, value = email.policy.SMTP.header_store_parse(
        "From", Address(display_name=name, addr_spec=address)
    )
    folded = email.policy.SMTP.fold(header_name, value)
    return _EncodedHeader(folded.split(":", 1)[1].strip().replace("\r\n", "\n"))


class MailMessage(flask_mail.Message):
    """Flask-Mail's message, utf-8 with base64 bodies (UTF8_BASE64), serialised with the
    compat32 policy (SMTP_COMPAT32)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("charset", UTF8_BASE64)
        super().__init__(*args, **kwargs)

    def _message(self) -> email.message.Message:
        # Override: Flask-Mail's _message() sets policy.SMTP on every message and encodes
        # the From and Subject itself, with no setting for either (flask_mail/__init__.py,
        # Message._message); hence the policy swap and the two headers rewritten below.
        # Flask-Mail would encode the subject itself, every time, and without counting
        # "Subject: ": compat32 would then move all of it to a folded line, which readers
        # show as a leading space.
        subject, self.subject = self.subject, None
        try:
            message = super()._message()
        finally:
            self.subject = subject
        message.policy = SMTP_COMPAT32
        sender = _from_header(self.sender) if self.sender else None
        if sender is not None:
            message.replace_header("From", sender)
        if subject:
            message["Subject"] = _subject_header(subject)
        # Boundaries of our own: the generator checks a random one against the whole text
        # with a regular expression compiled for it. "=_" never occurs in base64 bodies.
        for part in message.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(12)}")
        return message


class TemporaryMailError(Exception):
    """The mail server could not take the message now; try again later."""


class PermanentMailError(Exception):
    """The mail server refused the message for good."""


class MailConnection(Protocol):
    def send(self, message: flask_mail.Message) -> None: ...


class AmbiguousDelivery(Exception):
    """The connection failed after the message was handed over and before the server's
    verdict: it may or may not have been accepted."""


class _VerdictTracking:
    """Remembers whether a message's data was handed over with the verdict still awaited."""

    verdict_pending = False
    _in_data = False

    def data(self, msg):
        self.verdict_pending = False
        self._in_data = True
        try:
            reply = super().data(msg)
        finally:
            self._in_data = False
        self.verdict_pending = False
        return reply

    def send(self, s):
        if self._in_data and isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.verdict_pending = True
        return super().send(s)


class VerdictTrackingSMTP(_VerdictTracking, smtplib.SMTP):
    pass


class VerdictTrackingSMTP_SSL(_VerdictTracking, smtplib.SMTP_SSL):
    pass


class SMTPConnection(flask_mail.Connection):
    """Flask-Mail's connection with the guards it lacks: a socket timeout; a QUIT failure
    after the server accepted the message not turning a sent message into an error; and an
    SMTP client that knows when a message's verdict is pending (ReusableConnection reports
    a failure then as AmbiguousDelivery)."""

    def configure_host(self) -> smtplib.SMTP:
        # Override: Flask-Mail opens smtplib.SMTP with no timeout and has no MAIL_TIMEOUT
        # (pallets-eco/flask-mail#114, open; PR #140, closed): a silent server would hang a
        # worker for good. Same steps as Flask-Mail's, with our timeout and SMTP classes.
        timeout = current_app.config["MAIL_TIMEOUT"]
        smtp_class = VerdictTrackingSMTP_SSL if self.mail.use_ssl else VerdictTrackingSMTP
        host = smtp_class(self.mail.server, self.mail.port, timeout=timeout)
        if self.mail.use_tls:
            host.starttls()
        if self.mail.username and self.mail.password:
            host.login(self.mail.username, self.mail.password)
        return host

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Override: Flask-Mail's __exit__ lets a failed QUIT raise (pallets-eco/flask-mail#98;
        # PR #139, closed), which would turn messages the server accepted into errors, and
        # retries into duplicates.
        if self.host is None:
            return
        try:
            self.host.quit()
        except (smtplib.SMTPException, OSError):
            self.host.close()


class OutboxFolder:
    """The embedded default's mail transport: one .eml file per message in OUTBOX_DIR,
    readable by Tribune's user only (addresses and live links are in them)."""

    def __init__(self, folder: str) -> None:
        self.folder = Path(folder)

    def __enter__(self) -> OutboxFolder:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def send(self, message: flask_mail.Message) -> None:
        # Named after its Message-ID too: erasing a signer deletes the files of their
        # messages (delete_message_files), which hold their address and live links.
        tag = message_file_tag(message.msgId or "")
        name = f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.{tag}.eml"
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(message.as_bytes())


def message_file_tag(message_id: str) -> str:
    """The part of an outbox file's name that names its message: the Message-ID's local
    part ("outbox-12.signature_confirmation"), in file-name-safe characters."""
    local = message_id.strip().strip("<>").rpartition("@")[0]
    return re.sub(r"[^A-Za-z0-9._-]", "", local)[:100]


def delete_message_files(message_ids: Iterable[str]) -> int:
    """Delete the outbox folder's files of these messages (by Message-ID); how many went.
    Files written before they were named after their message are left to the age purge."""
    wanted = {message_file_tag(message_id) for message_id in message_ids} - {""}
    folder = Path(current_app.config["OUTBOX_DIR"])
    if not wanted or not folder.is_dir():
        return 0
    deleted = 0
    for path in folder.glob("*.eml"):
        if path.name[: -len(".eml")].partition(".")[2] in wanted:
            with contextlib.suppress(FileNotFoundError):  # another erasure took it
                path.unlink()
                deleted += 1
    return deleted


def open_mail_connection() -> SMTPConnection | OutboxFolder:
    """SMTP when MAIL_SERVER is set, the outbox folder otherwise."""
    if current_app.config["MAIL_SERVER"]:
        return SMTPConnection(current_app.extensions["mail"])
    return OutboxFolder(current_app.config["OUTBOX_DIR"])


def render_email(name: str, locale: str, **context: object) -> tuple[str, str, str]:
    """Subject, text body and HTML body of templates/email/<name>/, in the given language."""
    with force_locale(locale):
        subject = render_template(f"email/{name}/subject.txt", **context).strip()
        text = render_template(f"email/{name}/body.txt", **context)
        html = render_template(f"email/{name}/body.html", **context)
    return " ".join(subject.split()), text, html


def classify_mail_error(error: Exception) -> Exception:
    """Map an SMTP failure onto temporary (retry) or permanent (record, stop), with any
    address in the server's reply blanked out."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        permanent = codes and all(500 <= code < 600 for code in codes)
        reason = f"recipient refused {codes}"
        return PermanentMailError(reason) if permanent else TemporaryMailError(reason)
    if isinstance(error, smtplib.SMTPResponseException):
        reply = (
            error.smtp_error.decode(errors="replace")
            if isinstance(error.smtp_error, bytes)
            else str(error.smtp_error)
        )
        reason = f"{error.smtp_code} {ADDRESS_PATTERN.sub('<address>', reply)}"[:250]
        if 500 <= error.smtp_code < 600:
            return PermanentMailError(reason)
        return TemporaryMailError(reason)
    return TemporaryMailError(type(error).__name__)


class ReusableConnection:
    """A mail connection for many messages, opened on first use and dropped after any
    error (the next message opens a new one)."""

    def __init__(self) -> None:
        self.context: SMTPConnection | OutboxFolder | None = None
        self.connection: MailConnection | None = None

    def send(self, message: flask_mail.Message) -> None:
        """Send one message; raises AmbiguousDelivery when the connection failed while the
        server's verdict on it was awaited (it may or may not have been accepted)."""
        if self.connection is None:
            self.context = open_mail_connection()
            self.connection = self.context.__enter__()
        try:
            self.connection.send(message)
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            if getattr(getattr(self.connection, "host", None), "verdict_pending", False):
                raise AmbiguousDelivery(type(error).__name__) from error
            raise

    def close(self) -> None:
        if self.context is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.context.__exit__(None, None, None)
        self.context = None
        self.connection = None
