"""Tests of the Kubernetes deployment (deploy/) and the server image (Dockerfile)."""
