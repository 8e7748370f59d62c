"""Verify a Tribune publication (signatories.json) with the standard library only.
Usage: python3 verify_publication.py signatories.json    Format: docs/publication.md"""

import hashlib
import json
import sys
import unicodedata


def canonical(value):  # sorted keys, no whitespace, UTF-8, strings in NFC
    nfc = json.loads(unicodedata.normalize("NFC", json.dumps(value, ensure_ascii=False)))
    return json.dumps(nfc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def sha(data):
    return hashlib.sha256(data).digest()


def root(leaves):  # RFC 6962 tree hash, with a stack of complete subtrees (size, hash)
    stack = []
    for node in ((1, leaf) for leaf in leaves):
        while stack and stack[-1][0] == node[0]:
            node = (2 * node[0], sha(b"\x01" + stack.pop()[1] + node[1]))
        stack.append(node)
    top = stack.pop()[1] if stack else sha(b"")
    while stack:
        top = sha(b"\x01" + stack.pop()[1] + top)
    return top.hex()


with open(sys.argv[1], encoding="utf-8") as file:
    doc = json.load(file)
head, errors, previous = doc["publication"], [], None
# An erased or removed entry ({"erased": leaf}, {"removed": leaf}) carries its leaf.
leaves = [bytes.fromhex(e.get("erased") or e["removed"]) if set(e) in ({"erased"}, {"removed"})
          else sha(b"\x00" + canonical(e)) for e in doc["entries"]]  # fmt: skip
if root(leaves) != head["root"] or len(leaves) != head["entries"]:
    errors.append("the entries do not match the Merkle root: the list was altered")
if sum(set(e) == {"removed"} for e in doc["entries"]) != head.get("removed", 0):
    errors.append("the number of removed entries does not match the header")
if sha(canonical(doc["petition"]["texts"])).hex() != head["text_sha256"]:
    errors.append("the petition text does not match its hash")
for number, link in enumerate([*doc["chain"], head], start=1):
    if link["previous"] != previous or link["sequence"] != number:
        errors.append(f"the chain is broken at publication {number}")
    previous = sha(canonical(link)).hex()
if previous != doc["hash"]:
    errors.append("the header does not match the publication hash")
print("\n".join(errors) or f"OK: {head['petition']} #{head['sequence']}, {len(leaves)} entries, "
      f"root {head['root']}, hash {doc['hash']}")  # fmt: skip
sys.exit(1 if errors else 0)
