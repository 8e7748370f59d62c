"""Mail campaigns to officials, supporters\x27 letters to their representatives, updates."""
