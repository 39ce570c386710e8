"""Glue between domain errors and WTForms fields."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm

from dangxiao.errors import DomainError


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show the error next to its field when the form has one, else as a page message."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")
