"""reconvla_twin: a plain PyTorch twin of the TypeScript models (the parity reference)."""
