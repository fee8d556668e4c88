"""The staff's web pages. Every route here but /login needs a signed-in user, and every form post
carries this session's CSRF token.

Pages read through `StaffDesk` and change things through `Clinic`, as the signed-in user, so the
audit log names them and every change re-plans the patient's texts exactly as the CLI does.
Changes answer with a redirect and a flash message (Post/Redirect/Get); a problem with the
request is shown next to the field or as a flash, never as an error page.
"""

from __future__ import annotations

from fastapi import APIRouter

from scheduler.web.admin import (
    corrections,
    enrol,
    events,
    imports,
    messages,
    patients,
    reports,
    signin,
    staff,
    today,
    week,
)


def admin_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for module in (
        signin,
        today,
        week,
        patients,
        corrections,
        enrol,
        messages,
        events,
        imports,
        reports,
        staff,
    ):
        module.routes(router)
    return router
