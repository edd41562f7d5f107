"""The dashboard's static side: what is served, with which headers, and what is shipped."""

from __future__ import annotations

import asyncio
import hashlib
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pyjobs.config import Settings
from pyjobs.server.app import create_app
from pyjobs.server.dashboard import SECURITY_HEADERS, STATIC_DIR, install

VENDOR = STATIC_DIR / "vendor"
# Ways of turning a string into markup; the dashboard builds its DOM from Text nodes only.
HTML_SINKS = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(")
# `import … from './x.js'` (on one line or closing a multi-line import) and `import './x.js'`.
IMPORT = re.compile(r"""(?:\bfrom|^import)\s+['"](\.[^'"]+)['"];$""", re.MULTILINE)


class Client:
    """Requests to an ASGI app in this process (no lifespan: the dashboard needs none)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str) -> httpx.Response:
        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                return await http.request(method, path)

        # A thread of its own: asyncio.run() refuses to start where a loop already runs.
        with ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(lambda: asyncio.run(send())).result()

    def get(self, path: str) -> httpx.Response:
        return self.request("GET", path)

    def head(self, path: str) -> httpx.Response:
        return self.request("HEAD", path)


@pytest.fixture
def client() -> Client:
    app = FastAPI()
    install(app)
    return Client(app)


def test_the_page_is_served_at_the_root_with_strict_headers(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "default-src 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<main id="main"' in response.text
    assert client.head("/").status_code == 200


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("/dashboard/js/main.js", "text/javascript; charset=utf-8"),
        ("/dashboard/app.css", "text/css; charset=utf-8"),
        ("/dashboard/favicon.svg", "image/svg+xml"),
        ("/dashboard/vendor/prismjs-1.30.0/prism-core.min.js", "text/javascript; charset=utf-8"),
        ("/dashboard/vendor/prismjs-1.30.0/LICENSE", "text/plain; charset=utf-8"),
    ],
)
def test_assets_have_their_type_and_the_same_headers(
    client: Client, path: str, media_type: str
) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value


def test_missing_and_escaping_paths_are_404(client: Client) -> None:
    assert client.get("/dashboard/js/nothing.js").status_code == 404
    assert client.get("/dashboard/../router.py").status_code == 404
    assert client.get("/dashboard/%2e%2e/router.py").status_code == 404


def test_the_server_app_serves_the_dashboard_beside_the_api(tmp_path: Path) -> None:
    # A sandbox root of its own: the default for root is a per-home directory in /var/tmp.
    app = create_app(Settings(home=tmp_path / "home", sandbox_root=tmp_path / "sandbox"))
    served = Client(app)
    assert (
        served.get("/").headers["content-security-policy"]
        == SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert served.get("/dashboard/js/api.js").status_code == 200
    assert served.get("/healthz").json() == {"status": "ok"}
    assert "content-security-policy" not in served.get("/healthz").headers  # the API's own
    paths = app.openapi()["paths"]
    assert "/api/v1/tasks" in paths
    assert "/" not in paths  # the page is no API operation


def test_every_script_the_page_loads_exists_and_no_inline_code() -> None:
    page = (STATIC_DIR / "index.html").read_text()
    assert "<script>" not in page  # the CSP would block it
    assert " style=" not in page
    for source in re.findall(r'(?:src|href)="/dashboard/([^"]+)"', page):
        assert (STATIC_DIR / source).is_file(), source


def test_modules_build_no_html_from_strings() -> None:
    modules = sorted((STATIC_DIR / "js").glob("*.js"))
    assert {m.name for m in modules} >= {"api.js", "list.js", "submit.js", "task.js", "main.js"}
    for module in modules:
        text = module.read_text()
        for sink in HTML_SINKS:
            assert sink not in text, f"{module.name} uses {sink}"
        for imported in IMPORT.findall(text):
            assert (module.parent / imported).resolve().is_file(), f"{module.name}: {imported}"


def test_vendored_files_match_their_recorded_hashes_and_carry_a_license() -> None:
    readme = (VENDOR / "README.md").read_text()
    row = re.compile(r"^\| `([^`]+)` \| .*? \| `([0-9a-f]{64})` \|$", re.MULTILINE)
    recorded = dict(row.findall(readme))
    files = (path for path in VENDOR.rglob("*") if path.is_file())
    shipped = {str(path.relative_to(VENDOR)) for path in files} - {"README.md"}
    assert set(recorded) == shipped
    for name, digest in recorded.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for folder in (p for p in VENDOR.iterdir() if p.is_dir()):
        assert (folder / "LICENSE").is_file(), folder.name
