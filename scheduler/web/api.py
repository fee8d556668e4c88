"""The JSON API for clinics that connect an EHR: the CLI's operations, behind bearer tokens."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from scheduler.services import Clinic
from scheduler.web.security import api_client

Client = Annotated[str, Depends(api_client)]


def clinic_for(request: Request, client: str) -> Clinic:
    clinic: Clinic = request.app.state.app.clinic(f"api:{client}")
    return clinic


def api_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["patients"])

    @router.get("/patients", summary="List patients")
    async def list_patients(
        request: Request, client: Client, status: str | None = None
    ) -> list[dict[str, Any]]:
        clinic = clinic_for(request, client)
        result: list[dict[str, Any]] = await run_in_threadpool(clinic.patients, status)
        return result

    return router
