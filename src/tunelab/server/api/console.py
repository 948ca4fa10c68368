"""Placeholder: filled in by the console work."""

from fastapi import APIRouter

router = APIRouter()
