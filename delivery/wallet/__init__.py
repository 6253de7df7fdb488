"""Wallet passes: Apple (pass files, signing, APNs pushes) and Google (save links, updates)."""
