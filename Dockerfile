# Kizuna: one image for every process of the distributed mode (api, worker, beat, migrate).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KIZUNA_DATA_DIR=/var/lib/kizuna

WORKDIR /src

# Dependencies first, in their own layer: a code change does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .
RUN pip install --no-cache-dir . \
    && rm -rf /src \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/kizuna --shell /usr/sbin/nologin kizuna \
    && mkdir -p /var/lib/kizuna \
    && chown kizuna:kizuna /var/lib/kizuna

# Run from the data dir, not the source tree, so the installed package is what gets imported.
WORKDIR /var/lib/kizuna
USER kizuna
VOLUME ["/var/lib/kizuna"]
EXPOSE 8000

# No curl in slim: python's urllib. Worker and beat override this in compose.yaml.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

CMD ["kizuna", "serve", "--host", "0.0.0.0", "--port", "8000"]
