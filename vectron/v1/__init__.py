"""Generated from proto/vectron/v1 by scripts/gen_protos.py. Do not edit."""
