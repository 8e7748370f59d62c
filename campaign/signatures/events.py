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

# Sent after a commit that erased a signature's personal data (withdrawn: by its signer, by
# link or from the rights page): the sender is the signature's id. The privacy domain
# deletes the embedded outbox folder's copies of the signer's emails on it.
signature_erased = _signals.signal("signature-erased")
