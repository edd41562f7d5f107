"""The host's network settings that a job's install step needs even with a cleared environment.

Companies put a TLS proxy's CA, a proxy and a package mirror into the environment; an
install step that starts from an empty environment must still get exactly these, and
nothing else of the server's environment (which may hold secrets).
"""

from __future__ import annotations

from collections.abc import Mapping

# Names only: the values are the operator's configuration, never user input.
NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    "UV_INDEX_STRATEGY",
    "UV_NATIVE_TLS",
    "UV_SYSTEM_CERTS",
    "UV_INSECURE_HOST",
    "UV_HTTP_TIMEOUT",
    "UV_CONCURRENT_DOWNLOADS",
    "UV_OFFLINE",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
)


# What the code itself gets when it has network: how to trust the company's TLS proxy.
# Proxy and index settings (which may carry credentials) stay with the install step.
CA_VARIABLES = frozenset({"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"})


def network_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The network-related variables of `environ` (CA bundles, proxies, package indexes)."""
    return {name: environ[name] for name in NETWORK_VARIABLES if name in environ}
