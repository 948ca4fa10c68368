"""Placeholder: filled in by the projects work."""

from fastapi import APIRouter

router = APIRouter()
