FROM python:3.11-slim
WORKDIR /app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY pyproject.toml README.md ./
COPY market ./market
COPY matching ./matching
COPY notifications ./notifications
COPY migrations ./migrations
COPY templates ./templates
RUN pip install --no-cache-dir -e .
RUN useradd --create-home anlauf && mkdir -p /app/instance /app/outbox && chown -R anlauf /app
USER anlauf
EXPOSE 8000
CMD ["anlauf", "serve", "--host", "0.0.0.0", "--port", "8000"]
