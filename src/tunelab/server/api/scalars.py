"""Placeholder: filled in by the scalars work."""

from fastapi import APIRouter

router = APIRouter()
