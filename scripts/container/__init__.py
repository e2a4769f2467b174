"""`scripts/container-test`: build the action's real Dockerfile and run the image as the
GitHub runner runs a Docker action, with buildah instead of a Docker engine.

``python -m scripts.container --help`` from the repository root (root only: debootstrap
and buildah's chroot isolation need it).
"""
