"""The task service: REST API, storage, dispatcher, auth."""
