"""The domain errors every service raises: handlers and domain rules say *what* went wrong,
never how it travels. Entrypoints translate them in one place (`services.common.http` maps
each class to an HTTP status; the CLI prints them).

Each error carries a machine-readable `code`, the `problems` (field and reason) a client
must fix, an optional overall `reason`, and `details` (extra JSON fields, e.g. the current
version). Pure: no I/O, no web framework.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request: where (`body.level`, `query.cycle`,
    `header.If-Match`) and why."""

    field: str
    reason: str


class DomainError(Exception):
    """Base of the errors a use case raises on purpose."""

    default_code: ClassVar[str] = "error"

    def __init__(
        self,
        *,
        problems: Iterable[Problem] = (),
        reason: str | None = None,
        code: str | None = None,
        retry_after_s: int | None = None,
        **details: Any,
    ) -> None:
        self.problems = list(problems)
        self.reason = reason
        self.code = code or self.default_code  # a more specific code may be given
        self.retry_after_s = retry_after_s  # how soon trying again may help
        self.details: Mapping[str, Any] = details
        super().__init__(reason or "; ".join(f"{p.field}: {p.reason}" for p in self.problems) or self.code)

    @classmethod
    def at(cls, field: str, reason: str, **kwargs: Any) -> Self:
        """The error for one field: `InvalidInput.at("body.level", "must be 1 to 3")`."""
        return cls(problems=[Problem(field, reason)], **kwargs)

    def body(self) -> dict[str, Any]:
        """The error as a JSON document: `{"error": code, "problems": [...], ...}`."""
        body: dict[str, Any] = {"error": self.code}
        if self.problems:
            body["problems"] = [{"field": p.field, "reason": p.reason} for p in self.problems]
        if self.reason is not None:
            body["reason"] = self.reason
        body.update(self.details)
        return body


class InvalidInput(DomainError):
    """The request breaks a rule of its fields; nothing was changed."""

    default_code = "invalid_request"


class NotFound(DomainError):
    """No such thing, or one the caller may not know exists."""

    default_code = "not_found"

    @classmethod
    def named(cls, what: str) -> Self:
        return cls(reason=f"{what} not found")


class Forbidden(DomainError):
    """The caller is known but may not do this."""

    default_code = "forbidden"

    def __init__(self, reason: str | None = None, *, problems: Iterable[Problem] = (), **kwargs: Any) -> None:
        # The reason comes first here: "who may do this" is usually all there is to say.
        super().__init__(problems=problems, reason=reason, **kwargs)


class Conflict(DomainError):
    """The subject's current state does not allow the change (a status, a duplicate id, a
    closed window, a limit)."""

    default_code = "conflict"


class PreconditionRequired(DomainError):
    """A change of a versioned subject without the version it was based on."""

    default_code = "precondition_required"


class StaleVersion(DomainError):
    """The version the change was based on is no longer the current one."""

    default_code = "precondition_failed"


class NotEligible(DomainError):
    """The subject breaks eligibility rules; `problems` names every one."""

    default_code = "not_eligible"


class TooLarge(DomainError):
    """The request's content is larger than allowed."""

    default_code = "too_large"


class UnsupportedContent(DomainError):
    """The request's content type is not one this operation takes."""

    default_code = "invalid_request"


class InputStalled(DomainError):
    """The client stopped sending the request's content."""

    default_code = "upload_stalled"


class InputInterrupted(DomainError):
    """The client went away before the request's content was complete."""

    default_code = "client_disconnected"


class Unavailable(DomainError):
    """A server the operation needs is unreachable; nothing was changed, try again."""

    default_code = "unavailable"
