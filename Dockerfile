# VoxKeys' one image: the web server, the worker and the periodic commands, chosen by the entry
# point's subcommand (bin/voxkeys-entrypoint: web, worker, migrate, manage ...). Not built in CI
# (these machines cannot build images); CI runs the same entry point from a checkout.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    PYTHON=/opt/venv/bin/python

RUN groupadd --system voxkeys && useradd --system --gid voxkeys --home-dir /app voxkeys

# The dependencies first, from the lock alone: this layer is rebuilt only when the lock changes.
COPY requirements.lock /app/requirements.lock
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --quiet --require-hashes --no-deps -r /app/requirements.lock

COPY . /app
WORKDIR /app
# The project itself, as `make install-prod` does it (nothing to fetch, the lock is installed).
RUN bin/install-prod /opt/venv \
    && SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0 \
    && rm -rf build voxkeys.egg-info

USER voxkeys
EXPOSE 8000
ENTRYPOINT ["/app/bin/voxkeys-entrypoint"]
CMD ["web"]
