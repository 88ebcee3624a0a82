# syntax=docker/dockerfile:1
# The registry-kafka-bridge image: one image, two commands.
#   registry-bridge serve --host 0.0.0.0 --port 8080     (the HTTP receiver)
#   registry-consumer run push|pull|other|relay           (the consumers)
#   registry-consumer dashboard --host 0.0.0.0 --port 8090  (the dashboard; needs a token there)
# Build from the repository root:  docker build -t registry-kafka-bridge:local .

FROM python:3.12-slim AS build
WORKDIR /src
# README.m[d]: copied when present (pyproject names it as the long description).
COPY pyproject.toml README.m[d] ./
COPY common ./common
COPY bridge ./bridge
COPY consumers ./consumers
COPY devstack ./devstack
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REGBRIDGE_SPOOL_DIR=/var/spool/regbridge
RUN useradd --system --uid 10001 --user-group --home-dir /nonexistent --shell /usr/sbin/nologin regbridge \
 && install -d -o regbridge -g regbridge /var/spool/regbridge
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-compile /wheels/*.whl && rm -rf /wheels
USER regbridge
# The spool directory is a volume so that each replica keeps its own across restarts.
VOLUME ["/var/spool/regbridge"]
EXPOSE 8080 8090 9100
# No HEALTHCHECK here: the image runs the bridge (:8080/readyz), a consumer (:9100/healthz) or
# the dashboard (:8090/healthz),
# so each service declares its own (see compose/compose.yaml).
STOPSIGNAL SIGTERM
CMD ["registry-bridge", "serve", "--host", "0.0.0.0", "--port", "8080"]
