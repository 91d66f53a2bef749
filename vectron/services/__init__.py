"""Vectron's services (auth, and later gateway, placement, worker) and their shared edges."""
