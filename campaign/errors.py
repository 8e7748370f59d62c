"""Domain exceptions and their HTTP handlers."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """Base of the failures that domain functions report."""


class InvalidTransition(DomainError):
    """A state change that the state machine does not allow."""


class PetitionNotSignable(DomainError):
    """The petition is not open for signatures (draft, closed, archived, not yet open)."""


class InvalidRegistryNumber(DomainError):
    """A registration number (RPPS) that is malformed or fails its check digit."""


class TokenInvalid(DomainError):
    """A link token that was not issued by this server for this purpose."""


class TokenExpired(DomainError):
    """A genuine token past its lifetime; carries the id it was issued for, and its purpose."""

    def __init__(self, subject_id: int, purpose: str = "confirm") -> None:
        super().__init__(subject_id)
        self.subject_id = subject_id
        self.purpose = purpose


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    """Render HTTP errors as pages, or as JSON under /api/."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if _wants_json():
            body = {"error": error.name, "status": error.code, "message": error.description}
            return jsonify(body), error.code
        return render_template("errors/http.html", error=error), error.code
