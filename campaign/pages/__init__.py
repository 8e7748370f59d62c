"""Site-wide pages: home, privacy notice, language switch, development outbox."""
