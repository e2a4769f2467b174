"""The one client of GitHub's artifact service (v4, Twirp over JSON).

Calls go to ``{origin of ACTIONS_RESULTS_URL}/twirp/github.actions.results.api.v1.
ArtifactService/{Method}`` with the runner's token. Requests use the protobuf field names
(snake_case; int64 as strings); answers may come in snake_case or camelCase. Which
answers are retried, and how, is ``retries.ARTIFACT``'s (the official client's policy);
every call ends by the archive's deadline.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .. import http, retries
from ..deadline import Deadline
from ..errors import ArtifactError

SERVICE = "github.actions.results.api.v1.ArtifactService"
MAX_ATTEMPTS = retries.ARTIFACT.attempts
TIMEOUT = (15.0, 120.0)


class _Retryable(ArtifactError):
    """A 429/5xx answer or a connection fault: worth another attempt."""


@dataclass(frozen=True)
class BackendIds:
    """The run's and job's ids in the results service, from the runtime token."""

    run: str
    job: str

    @classmethod
    def from_token(cls, token: str) -> BackendIds:
        """Read ``Actions.Results:<run>:<job>`` from the token's ``scp`` claim (unverified)."""
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            scopes = str(claims["scp"]).split(" ")
        except (IndexError, KeyError, ValueError, TypeError, binascii.Error) as exc:
            raise ArtifactError(
                "ACTIONS_RUNTIME_TOKEN is not the JWT the runner gives "
                "(no 'scp' claim); cannot upload artifacts."
            ) from exc
        for scope in scopes:
            parts = scope.split(":")
            if parts[0] == "Actions.Results" and len(parts) == 3:
                return cls(run=parts[1], job=parts[2])
        raise ArtifactError(
            "ACTIONS_RUNTIME_TOKEN has no 'Actions.Results' scope; cannot upload artifacts."
        )


@dataclass(frozen=True)
class ListedArtifact:
    id: int
    name: str


class ResultsService:
    """CreateArtifact, FinalizeArtifact, ListArtifacts and DeleteArtifact."""

    def __init__(
        self,
        results_url: str,
        runtime_token: str,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda message: None,
    ) -> None:
        parts = urlsplit(results_url)
        self._base = f"{parts.scheme}://{parts.netloc}/twirp/{SERVICE}/"
        self._token = runtime_token
        self.ids = BackendIds.from_token(runtime_token)
        self._session = session or http.session()
        self._sleep = sleep
        self._log = log

    def create(self, name: str, *, expires_at: str | None, deadline: Deadline) -> str:
        """Create the artifact; return the blob's signed upload URL."""
        body = self._call("CreateArtifact", deadline, name=name, version=4, expires_at=expires_at)
        url = _field(body, "signed_upload_url")
        if not _field(body, "ok") or not isinstance(url, str) or not url:
            raise ArtifactError(
                f"GitHub did not accept the artifact '{name}' (CreateArtifact "
                "answered without an upload URL)."
            )
        return url

    def finalize(self, name: str, *, size: int, sha256: str, deadline: Deadline) -> int:
        """Finalize the artifact after its blob was uploaded; return its id."""
        body = self._call(
            "FinalizeArtifact", deadline, name=name, size=str(size), hash=f"sha256:{sha256}"
        )
        artifact_id = _field(body, "artifact_id")
        if not _field(body, "ok") or artifact_id is None:
            raise ArtifactError(f"GitHub did not finalize the artifact '{name}'.")
        return int(artifact_id)

    def find(self, name: str, *, deadline: Deadline) -> list[ListedArtifact]:
        """This run's artifacts with exactly this name."""
        body = self._call("ListArtifacts", deadline, name_filter=name)
        listed = _field(body, "artifacts") or []
        return [
            ListedArtifact(int(_field(a, "database_id")), str(a["name"]))
            for a in listed
            if isinstance(a, dict) and a.get("name") == name
        ]

    def delete(self, name: str, *, deadline: Deadline) -> int:
        body = self._call("DeleteArtifact", deadline, name=name)
        return int(_field(body, "artifact_id") or 0)

    def _call(self, method: str, deadline: Deadline, **fields: Any) -> dict[str, Any]:
        request = {
            "workflow_run_backend_id": self.ids.run,
            "workflow_job_run_backend_id": self.ids.job,
            **{key: value for key, value in fields.items() if value is not None},
        }

        retrying = retries.ARTIFACT.retrying(
            _Retryable, sleep=self._sleep, log=self._log, prefix=f"{method}: ", deadline=deadline
        )
        return retrying(self._post, method, request, deadline)

    def _post(self, method: str, request: dict[str, Any], deadline: Deadline) -> dict[str, Any]:
        deadline.check(f"The artifact service's {method}")
        try:
            response = self._session.post(
                self._base + method,
                json=request,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=(deadline.timeout(TIMEOUT[0]), deadline.timeout(TIMEOUT[1])),
            )
        except requests.RequestException as exc:
            deadline.check(f"The artifact service's {method}")
            if not retries.retried_error(exc):
                raise ArtifactError(
                    f"{method}: the artifact service cannot be reached ({type(exc).__name__}); "
                    "the archive itself was saved."
                ) from exc
            raise _Retryable(
                f"the artifact service could not be reached ({type(exc).__name__})"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        body = body if isinstance(body, dict) else {}
        if 200 <= response.status_code < 300:
            return body
        message = str(body.get("msg") or response.reason or "")
        status = response.status_code
        if "insufficient usage" in message.lower():
            raise ArtifactError(
                "GitHub's artifact storage quota for this account is used up "
                f"({method}: {message}). Delete old artifacts or raise the spending limit, "
                "then run the backup again; the archive itself was saved."
            )
        if status == 409:
            raise ArtifactError(
                f"An artifact named '{request.get('name')}' already exists in this workflow "
                "run. Set overwrite: true to replace it, or change artifact-name."
            )
        if retries.ARTIFACT.retried_status(status):
            raise _Retryable(f"the artifact service answered {status} {message}".rstrip())
        raise ArtifactError(
            f"{method} failed: the artifact service answered {status} {message}".rstrip() + "."
        )


def _field(body: Any, snake: str) -> Any:
    """A response field in snake_case or camelCase."""
    if not isinstance(body, dict):
        return None
    if snake in body:
        return body[snake]
    head, *rest = snake.split("_")
    return body.get(head + "".join(word.title() for word in rest))
