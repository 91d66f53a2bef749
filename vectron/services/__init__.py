"""Vectron's services (auth, placement, worker, gateway) and their shared edges."""
