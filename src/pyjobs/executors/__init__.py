"""Executors: where and how a task's runs happen."""
