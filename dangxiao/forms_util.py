"""Glue between domain errors and WTForms fields."""

from __future__ import annotations

from flask import flash
from flask_wtf import FlaskForm
from wtforms.fields.choices import SelectChoice

from dangxiao.errors import DomainError


class Form(FlaskForm):
    """Base form: WTForms' built-in messages in Simplified Chinese (no Babel needed)."""

    class Meta:
        locales = ["zh"]


def attach_error(form: FlaskForm, error: DomainError) -> None:
    """Show the error next to its field when the form has one, else as a page message."""
    field = getattr(form, error.field, None) if error.field else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def options(pairs) -> list[SelectChoice]:
    """SelectField choices in the form WTForms 3.3+ wants (tuples are deprecated there)."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]
