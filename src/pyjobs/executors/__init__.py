"""Executors: where runs happen (this machine, or an Argo Server)."""
