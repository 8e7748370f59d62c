"""Privacy by design: consent records, the signer's rights by emailed link, retention."""
