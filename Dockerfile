# leadflow worker and API image. The same image runs `leadflow worker`, `leadflow api`
# and `leadflow migrate` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

COPY pyproject.toml constraints.txt README.md alembic.ini ./
COPY leadflow ./leadflow
COPY migrations ./migrations
COPY playbooks ./playbooks
RUN pip install --no-cache-dir -c constraints.txt . \
    && useradd --system --uid 10001 leadflow

USER leadflow
EXPOSE 8000
ENTRYPOINT ["leadflow"]
CMD ["worker"]
