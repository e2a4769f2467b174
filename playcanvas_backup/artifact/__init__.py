"""Workflow artifacts (artifact service v4), uploaded from inside the container."""

from .upload import ArtifactUploader, check_name

__all__ = ["ArtifactUploader", "check_name"]
