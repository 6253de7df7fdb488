# Engage: the API (`engage serve`) and the outbox worker (`engage worker`) in one image.
# Production by default: set ENGAGE_MONGODB_URI, ENGAGE_SECRET_KEY and ENGAGE_BASE_URL (https).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    ENGAGE_ENV=production ENGAGE_HOST=0.0.0.0 ENGAGE_PORT=8000 \
    ENGAGE_DATA_DIR=/data ENGAGE_DEMO_PROJECT=false
RUN useradd --create-home --uid 10001 engage && install -d -o engage /data
WORKDIR /app

# The dependencies in a layer of their own: rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip install -r requirements.txt

COPY README.md ./
COPY api api
COPY schema schema
COPY domain domain
COPY delivery delivery
COPY templates templates
RUN pip install --no-deps . && rm -rf /app/build

USER engage
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
CMD ["engage", "serve"]
