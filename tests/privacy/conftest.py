"""A site that sends mail to the test SMTP server, and helpers for the rights link."""

from __future__ import annotations

from tests.support import csrf_token, links_in, path_of, text_part


def ask_for_link(browser, petition, email: str):
    """Submit the per-petition form asking for the link to one's data."""
    path = f"/p/{petition.slug}/my-signature"
    data = {"csrf_token": csrf_token(browser, path), "email": email}
    return browser.post(path, data=data)


def rights_path(mailbox, address: str) -> str:
    """The path of the link in the last rights email sent to `address`."""
    mailbox.wait_for(1)
    message = mailbox.to(address)[-1]
    return path_of(links_in(text_part(message))[0])
