# ecgreview: Streamlit review app for pseudonymized DICOM 12-lead ECGs.
# Build:  docker build -t ecgreview .
# Run:    see docs/deployment.md (models and reviews live in volumes; put a TLS proxy in front).
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ECGREVIEW_RUNTIME=docker \
    ECGREVIEW_HOME=/var/lib/ecgreview \
    ECGREVIEW_MODELS_DIR=/var/lib/ecgreview/models \
    ECGREVIEW_REVIEWS=/var/lib/ecgreview/reviews/reviews.csv \
    STREAMLIT_BROWSER_GATHER_USAGE_STATS=false

# Unprivileged user; owns only the data folders.
RUN groupadd --system --gid 10001 ecgreview \
    && useradd --system --uid 10001 --gid ecgreview --home-dir /app --shell /usr/sbin/nologin ecgreview \
    && mkdir -p /var/lib/ecgreview/models /var/lib/ecgreview/reviews \
    && chown -R ecgreview:ecgreview /var/lib/ecgreview

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

# Application code (see .dockerignore); root-owned and read-only for the app user.
COPY --chown=root:root . .

USER ecgreview
VOLUME ["/var/lib/ecgreview/models", "/var/lib/ecgreview/reviews"]
EXPOSE 8501

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status == 200 else 1)"]

# Bind inside the container to all interfaces; publish the port on 127.0.0.1 only and
# let the TLS reverse proxy reach it (docs/deployment.md). .streamlit/config.toml keeps
# XSRF protection on, CORS off, usage statistics off and uploads at 50 MB.
CMD ["python", "-m", "streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
