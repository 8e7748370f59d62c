"""Publication: press exports, hash-chained snapshots of the public list, receipts, proofs."""
