"""Placeholder: filled in by the tasks work."""

from fastapi import APIRouter

router = APIRouter()
