# smtp-auth-bot: the Procfile's web process (gunicorn, HTTP mode) in a container.
#   docker build -t smtp-auth-bot .
#   docker run --env-file .env -p 3000:3000 smtp-auth-bot
# compose.yaml runs it with PostgreSQL. Without DATABASE_URL the bot keeps SQLite in /data (mount a volume).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/smtp-auth-bot.db

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .
RUN useradd --system --uid 10001 --home-dir /data --create-home --shell /usr/sbin/nologin smtp-auth-bot

# The code stays owned by root; the bot can write only /data.
USER smtp-auth-bot
EXPOSE 3000

# python:3.11-slim has no curl: ask /healthz (liveness) on the port gunicorn binds, with urllib.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % (os.environ.get('PORT') or '3000'), timeout=4)"]

# The Procfile's web command; exec makes gunicorn PID 1, so `docker stop` stops it gracefully.
CMD ["sh", "-c", "exec gunicorn -c python:bot.slack.gunicorn_conf 'bot.slack.wsgi:create_app()'"]
