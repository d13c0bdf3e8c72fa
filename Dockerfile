# ecgreview: Streamlit review app for pseudonymized 12-lead ECGs.
# Build:  docker build -t ecgreview .
# Run:    see docs/deployment.md (all data in one volume; users signed in; a TLS proxy in front).
# Pinned by digest (a tag can be re-pushed, a digest cannot): the python:3.11.11-slim-bookworm digest
# cited by several public Dockerfiles. Check it before a build (`docker buildx imagetools inspect
# python:3.11.11-slim-bookworm`); move tag and digest together.
FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ECGREVIEW_RUNTIME=docker \
    ECGREVIEW_AUTH=local \
    ECGREVIEW_HOME=/var/lib/ecgreview \
    ECGREVIEW_MODELS_DIR=/var/lib/ecgreview/models \
    ECGREVIEW_REVIEWS=/var/lib/ecgreview/reviews/reviews.csv \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false \
    HOME=/tmp \
    XDG_CACHE_HOME=/tmp/cache \
    MPLCONFIGDIR=/tmp/matplotlib

# Unprivileged user; owns only ECGREVIEW_HOME (models, reviews, users.csv, uploads, index, sessions).
RUN groupadd --system --gid 10001 ecgreview \
    && useradd --system --uid 10001 --gid ecgreview --home-dir /app --shell /usr/sbin/nologin ecgreview \
    && mkdir -p /var/lib/ecgreview/models /var/lib/ecgreview/reviews \
    && chown -R ecgreview:ecgreview /var/lib/ecgreview \
    && chmod 0750 /var/lib/ecgreview

WORKDIR /app
# The whole dependency tree, pinned with hashes (scripts/lock.sh writes requirements.lock).
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

# Application code (see .dockerignore); root-owned and read-only for the app user.
COPY --chown=root:root . .

USER ecgreview
# ECGREVIEW_HOME is the one volume: everything the app writes lives there (or in the /tmp tmpfs),
# so the container runs with --read-only and keeps its data across upgrades.
VOLUME ["/var/lib/ecgreview"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]

# Bind inside the container to all interfaces; publish the port on 127.0.0.1 only and let the
# TLS reverse proxy reach it (docs/deployment.md). Any container on the same network can still
# reach 8501: ECGREVIEW_AUTH=local asks it for a password; ECGREVIEW_AUTH=proxy does not start
# unless ECGREVIEW_PROXY_SECRET (sent by the proxy in X-Ecgreview-Proxy-Secret) and/or
# ECGREVIEW_PROXY_SOURCES (the proxy's addresses) are set, and then refuses every other request.
# `streamlit run app.py` serves the app with ecgreview/ui/server_guards.py: security headers (CSP,
# frame-ancestors, X-Frame-Options, nosniff, Referrer-Policy), websocket origin with its port,
# sessions bound to their browser, uploads refused before sign-in. .streamlit/config.toml
# keeps XSRF protection ON, CORS protection ON (same origin only), the websocket Host allow-list
# (add the proxy's host name with STREAMLIT_SERVER_ALLOWED_HOSTS), the file watcher off,
# usage statistics off and uploads at 50 MB. ECGREVIEW_AUTH=local: add users with
#   docker exec -it ecgreview python -m ecgreview users add NAME --role reader
# (name mode, a typed name without sign-in, refuses to serve on 0.0.0.0).
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
