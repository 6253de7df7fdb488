# Engage API image. Expects ENGAGE_MONGODB_URI: the embedded database is for development.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    ENGAGE_HOST=0.0.0.0 ENGAGE_PORT=8000 ENGAGE_DEMO_PROJECT=false \
    ENGAGE_TEMPLATES_DIR=/app/templates
RUN useradd --create-home --uid 10001 engage
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY schema schema
COPY domain domain
COPY delivery delivery
COPY templates templates
RUN pip install . && chown -R engage /app
USER engage
EXPOSE 8000
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"
CMD ["engage", "serve", "--host", "0.0.0.0", "--port", "8000"]
