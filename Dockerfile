# The pyjobs server image (`pyjobs serve`), for the Kubernetes deployment in deploy/.
#
#   docker build -t registry.example.com/pyjobs-server:0.1.0 .
#
# Two stages: the first installs pyjobs with uv into a venv at /opt/pyjobs; the second is a
# clean slim Python with only that venv copied in: no pip, no compiler, no sources (uv is
# there only as a dependency of pyjobs). Both stages use the same base, since the venv links
# to its interpreter. The tag pins the Python line; for reproducible builds pin the digest
# too, in both FROM lines (`FROM python:3.12-slim-bookworm@sha256:<digest> AS build`), and
# let a bot bump it.

FROM python:3.12-slim-bookworm AS build
# uv from PyPI: pip is the one installer the base image has. Pinned for repeatable builds.
RUN python -m pip install --no-cache-dir --root-user-action=ignore uv==0.13.9
# Never fetch a Python build: the venv uses the base image's interpreter.
ENV UV_PYTHON_DOWNLOADS=never
WORKDIR /src
# Only what the wheel needs (the .dockerignore keeps everything else out of the context).
COPY pyproject.toml README.md ./
COPY src ./src
# --compile-bytecode: the final image's root filesystem is read-only, so Python could never
# write its .pyc files at run time; compile them now instead of on every start.
RUN uv venv --python /usr/local/bin/python3 /opt/pyjobs \
 && uv pip install --python /opt/pyjobs/bin/python --no-cache --compile-bytecode /src

FROM python:3.12-slim-bookworm
# The venv's interpreter is a symlink to /usr/local/bin/python3 of this same base image.
COPY --from=build /opt/pyjobs /opt/pyjobs
# The server installs nothing at run time: drop pip, and create its home (logs of runs),
# which Kubernetes replaces with a volume (the root filesystem is read-only there).
RUN python -m pip uninstall --yes --root-user-action=ignore pip \
 && mkdir -p /var/lib/pyjobs \
 && chown 10001:10001 /var/lib/pyjobs
ENV PATH=/opt/pyjobs/bin:$PATH \
    PYJOBS_HOME=/var/lib/pyjobs \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric uid (not a name) so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
WORKDIR /var/lib/pyjobs
EXPOSE 8000
# For docker/podman; Kubernetes ignores HEALTHCHECK and uses the Deployment's probes
# (/healthz liveness, /readyz readiness) instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
ENTRYPOINT ["pyjobs"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
