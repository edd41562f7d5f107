"""pyjobs: run Python code with the pip packages it needs as isolated jobs."""
