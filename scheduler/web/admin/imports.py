"""CSV import, with the per-row report."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from scheduler.errors import InvalidInput
from scheduler.services import ImportReport
from scheduler.services.csv_file import decode
from scheduler.web.admin.common import PostedForm, Staff, clinic_of, field, see
from scheduler.web.pages import flash, page
from scheduler.web.protection import CSV_IMPORT_BYTES

MAX_CSV_BYTES = CSV_IMPORT_BYTES
MAX_CSV_MB = MAX_CSV_BYTES // (1024 * 1024)


def routes(router: APIRouter) -> None:
    @router.get("/import", response_class=HTMLResponse)
    def import_start(request: Request, user: Staff) -> Response:
        return page(
            request, "import.html", user, title="Import", nav="import", report=None, dry_run=False,
            max_mb=MAX_CSV_MB,
        )  # fmt: skip

    @router.post("/import", response_class=HTMLResponse)
    async def import_csv(request: Request, user: Staff, form: PostedForm) -> Response:
        dry_run = field(form, "dry_run") == "yes"
        text, problem = await _csv_text(form)
        report = ImportReport(problem=problem)
        if problem is None:
            report = await run_in_threadpool(clinic_of(request, user).import_csv, text, dry_run=dry_run)
        if report.ok and not dry_run:
            flash(request, f"Imported {len(report.patient_ids)} patient(s); their courses are planned.")
            return see("/patients")
        return page(
            request,
            "import.html",
            user,
            status_code=200 if report.ok else 400,
            title="Import",
            nav="import",
            report=report,
            dry_run=dry_run,
            max_mb=MAX_CSV_MB,
        )


async def _csv_text(form: FormData) -> tuple[str, str | None]:
    """The CSV the form carries (an uploaded file, else the pasted text), or a problem."""
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        data = await upload.read(MAX_CSV_BYTES + 1)
        if len(data) > MAX_CSV_BYTES:
            return "", f"the file is larger than {MAX_CSV_MB} MB"
        try:
            return decode(data), None
        except InvalidInput as exc:
            return "", str(exc)
    pasted = field(form, "text", MAX_CSV_BYTES)
    if not pasted.strip():
        return "", "choose a CSV file or paste its contents"
    return pasted, None
