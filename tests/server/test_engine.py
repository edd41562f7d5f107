"""Engine URLs: the driver spelled out, nothing else of the URL changed."""

from __future__ import annotations

from pyjobs.server.db.engine import engine_url


def test_a_bare_postgresql_url_means_psycopg_and_keeps_its_password() -> None:
    # str() of a SQLAlchemy URL masks the password as ***, which then fails to log in.
    assert (
        engine_url("postgresql://pyjobs:s3cret@db:5432/pyjobs")
        == "postgresql+psycopg://pyjobs:s3cret@db:5432/pyjobs"
    )


def test_other_urls_are_left_as_they_are() -> None:
    for url in ("sqlite:////tmp/x.db", "postgresql+psycopg://u:p@h/d"):
        assert engine_url(url) == url
