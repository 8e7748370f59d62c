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

# Sent inside the transaction that withdraws a signature, before its commit: the sender is
# the signature's id. A domain that keeps data about the signer deletes it in the same
# session (without committing), so that every withdrawal, whoever makes it (the signer's
# link, their rights page, an erasure, an organiser), erases it with the name. The
# objections domain erases the letters' timeline on it.
signature_withdrawing = _signals.signal("signature-withdrawing")
