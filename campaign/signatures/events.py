"""What the signatures domain tells the others without knowing them: blinker signals, the
library Flask's own signals use. A domain that cares connects a receiver in its init_app;
sending with no receiver does nothing."""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

# Sent after a commit that changed a petition's public list (a name confirmed, withdrawn,
# hidden, invalidated, restored; a first signatory marked or unmarked): the sender is the
# petition's id, with `now=` the moment of the change. The publication domain schedules a
# fresh publication on it.
public_list_changed = _signals.signal("public-list-changed")

# Sent inside the signing transaction, once the new signature's row is written: the sender
# is its id, with `category_key=`, `rpps_number=`, `evidence=` (what the signer offered as
# proof, possibly empty) and `now=`. The verification domain records the claim
# (claim_at_signing; a malformed RPPS number raises InvalidRegistryNumber).
signing = _signals.signal("signing")

# Sent inside the confirmation's transaction when a signature moved to confirmed: the
# sender is its id, with `now=`. The verification domain computes its level.
confirmed = _signals.signal("confirmed")

# Sent inside the transaction that withdraws a signature, before its commit: the sender is
# the signature's id. A domain that keeps data about the signer deletes it in the same
# session (without committing), so that every withdrawal, whoever makes it (the signer's
# link, their rights page, an erasure), erases it with the name: verification erases what
# the signer offered as proof, objections the letters' timeline.
withdrawn = _signals.signal("withdrawn")

# Sent inside the caller's transaction when what a signature's verification level rests on
# has changed (the organisers' attestation given or withdrawn; a moderator hiding,
# invalidating or restoring it: a register badge's holder lets it go): the sender is the
# signature's id, with `now=`. The verification domain computes the level again
# (reassess_signature), before the caller records and commits.
evidence_changed = _signals.signal("evidence-changed")

# Sent while the signer's confirmation page is rendered: the sender is the signature, with
# `now=`; each receiver returns a dict of what its domain shows there (the publication
# receipt, the verification level and its form, the letters' link), added to the page's
# context. The page is the signer's one place; the domains above signatures fill it in
# without signatures importing them.
confirmation_page = _signals.signal("confirmation-page")


def confirmation_page_context(signature: object, now: object) -> dict[str, object]:
    """What the connected domains add to the confirmation page of `signature`."""
    context: dict[str, object] = {}
    for _receiver, values in confirmation_page.send(signature, now=now):
        context.update(values)
    return context


# Sent after a commit that erased a signature's personal data (withdrawn: by its signer, by
# link or from the rights page): the sender is the signature's id. The privacy domain
# deletes the embedded outbox folder's copies of the signer's emails on it.
signature_erased = _signals.signal("signature-erased")
