"""The baseline server: bare FastAPI endpoints, served by uvicorn as `pyjobs serve` serves.

`python -m bench.bare_app PORT OPTIONS_JSON`: the options are `pyjobs.server.app`'s
UVICORN_OPTIONS, handed over so that this process need not import the server. What pyjobs
adds over these endpoints (validation, the database, auth, logging) is what the submit and
list benchmarks measure; `/submit-validated` validates the body as a `TaskSpec` and stores
nothing, which tells validation's share from the rest.
"""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI

from pyjobs.spec import TaskSpec

app = FastAPI()

# A page shaped like pyjobs' listing: 50 summaries and a cursor.
_PAGE: dict[str, Any] = {
    "data": [
        {
            "id": uuid.uuid4().hex[:26],
            "status": "succeeded",
            "latest_run": 1,
            "created_at": datetime.now(UTC).isoformat(),
            "title": "print(1)",
            "dependencies": ["six"],
        }
        for _ in range(50)
    ],
    "next_cursor": uuid.uuid4().hex[:26],
}


@app.post("/submit", status_code=201)
async def submit(body: dict[str, Any]) -> dict[str, Any]:
    """Parse the JSON body, answer with a new id."""
    return {"id": uuid.uuid4().hex}


@app.post("/submit-validated", status_code=201)
async def submit_validated(spec: TaskSpec) -> dict[str, Any]:
    """Validate the body as pyjobs does (PEP 508 and all), store nothing, answer an id."""
    return {"id": uuid.uuid4().hex}


@app.get("/tasks")
async def tasks() -> dict[str, Any]:
    """A fixed page of 50 task summaries."""
    return _PAGE


@app.get("/readyz")
async def readyz() -> dict[str, str]:
    """Ready as soon as it serves."""
    return {"status": "ok"}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), **json.loads(sys.argv[2]))
