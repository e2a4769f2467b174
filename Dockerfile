# The action's image. The base is a build argument so that a local stand-in can be used
# where no registry is reachable (scripts/container-test); by default it is the official
# slim Python image.
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# Locked, hash-checked dependencies in their own layer, before the code.
COPY requirements.txt /action/requirements.txt
RUN python3 -m pip install --no-cache-dir --require-hashes --no-deps -r /action/requirements.txt

COPY entrypoint.py /action/entrypoint.py
COPY playcanvas_backup /action/playcanvas_backup
# Bytecode made once here, so that no run has to compile the action again.
RUN python3 -m compileall -q /action/playcanvas_backup

# No USER (the runner's workspace and file-command files belong to root) and no WORKDIR
# (the runner sets it to /github/workspace).
ENTRYPOINT ["python3", "/action/entrypoint.py"]
