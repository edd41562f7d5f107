"""Executors: where and how a job's script runs (local sandbox, Argo)."""
