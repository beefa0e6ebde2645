"""Out-of-process stand-ins for external systems (the ticket core) and helper worker scripts."""
