# Every image family, every flavour: a pinned Python environment, nothing more. A family differs only in what the
# build arguments bring: its base image (Python version) and its lock (copied into the build context as lock.txt).
# The worker is not baked in: vlmrun mounts images/worker read-only at run time.
# Built by `vlmrun images build FAMILY`, which passes the build arguments below, serves the
# host-side wheelhouse on the loopback interface and builds with host networking: no index, no registry.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ARG PYTHON_VERSION
ARG WHEELHOUSE_URL
COPY lock.txt /opt/vlmrun/lock.txt
RUN python3 -c "import sys; v='%d.%d' % sys.version_info[:2]; assert v == '${PYTHON_VERSION}', 'base has Python ' + v + ', family wants ${PYTHON_VERSION}'" \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --disable-pip-version-check --no-cache-dir --no-index \
        --find-links "${WHEELHOUSE_URL}" --require-hashes -r /opt/vlmrun/lock.txt \
 && /opt/venv/bin/pip freeze --all > /opt/vlmrun/pip-freeze.txt \
 && useradd --uid 1000 --create-home --shell /bin/sh vlmrun
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/opt/vlmrun/worker \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    HF_DATASETS_OFFLINE=1 \
    LANG=C.UTF-8
USER vlmrun
WORKDIR /tmp
CMD ["python", "-m", "vlmrun_worker", "env"]
