"""The Reports page (weekly figures as charts, a table and CSV) and the Export page (patients and
the message log as CSV files, each export audited)."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from scheduler.errors import InvalidInput
from scheduler.services.accounts import StaffUser
from scheduler.services.exports import Export, Period, parse_day
from scheduler.services.reports import report_csv
from scheduler.services.results import WeeklyReport
from scheduler.web.admin.charts import BLUE, ORANGE, Series, bar_chart
from scheduler.web.admin.common import PostedForm, Staff, field
from scheduler.web.pages import page


def routes(router: APIRouter) -> None:
    @router.get("/reports", response_class=HTMLResponse)
    def reports(request: Request, user: Staff, until: str = "") -> Response:
        try:
            report = _report(request, user, until)
        except InvalidInput as exc:
            return page(request, "reports.html", user, status_code=422, title="Reports", nav="reports",
                        report=None, error=str(exc))  # fmt: skip
        first = report.weeks[0].week_start
        return page(
            request,
            "reports.html",
            user,
            title="Reports",
            nav="reports",
            report=report,
            charts=charts(report),
            error=None,
            earlier=(first - timedelta(days=1)).isoformat(),
            until=until,
        )

    @router.get("/reports.csv")
    def reports_csv(request: Request, user: Staff, until: str = "") -> Response:
        try:
            report = _report(request, user, until)
        except InvalidInput as exc:
            return Response(f"error: {exc}\n", status_code=422, media_type="text/plain")
        name = f"weekly-report-{report.weeks[-1].week_start.isoformat()}.csv"
        return Response(report_csv(report), media_type="text/csv; charset=utf-8", headers=_attachment(name))

    @router.get("/export", response_class=HTMLResponse)
    def export_page(request: Request, user: Staff) -> Response:
        return _export_page(request, user)

    @router.post("/export/patients")
    def export_patients(request: Request, user: Staff, form: PostedForm) -> Response:
        return _download(request.app.state.app.exports(user.actor).export_patients())

    @router.post("/export/messages")
    def export_messages(request: Request, user: Staff, form: PostedForm) -> Response:
        first, last = field(form, "from", 20), field(form, "to", 20)
        bodies = field(form, "bodies") == "yes"
        try:
            period = Period.parse(first.strip() or None, last.strip() or None)
        except InvalidInput as exc:
            return _export_page(request, user, 422, {exc.field or "from": str(exc)}, first, last, bodies)
        return _download(request.app.state.app.exports(user.actor).export_messages(period, bodies=bodies))


def charts(report: WeeklyReport) -> list[tuple[str, object]]:
    """The page's charts: (heading, SVG)."""
    labels = [f"{w.week_start:%b} {w.week_start.day}" for w in report.weeks]
    weeks = report.weeks
    rates = [None if w.confirmation_rate is None else 100 * w.confirmation_rate for w in weeks]
    return [
        (
            "Sessions attended and missed",
            bar_chart(
                "chart-sessions",
                "Sessions attended and missed, per week",
                labels,
                [
                    Series("Attended", [w.attended for w in weeks]),
                    Series("Missed", [w.missed for w in weeks], ORANGE),
                ],
            ),
        ),
        (
            "Confirmation rate",
            bar_chart(
                "chart-confirmation",
                "Confirmation rate, per week",
                labels,
                [Series("Confirmed", rates, BLUE)],
                percent=True,
                about="The share of sessions with a confirm request that the patient confirmed.",
            ),
        ),
        (
            "Opt-outs",
            bar_chart(
                "chart-opt-outs",
                "Opt-outs, per week",
                labels,
                [Series("Opt-outs", [w.opt_outs for w in weeks])],
            ),
        ),
        (
            "Texts failed or expired",
            bar_chart(
                "chart-texts",
                "Texts failed or expired, per week",
                labels,
                [
                    Series("Failed", [w.texts_failed for w in weeks], ORANGE),
                    Series("Expired", [w.texts_expired for w in weeks]),
                ],
            ),
        ),
    ]


def _report(request: Request, user: StaffUser, until: str) -> WeeklyReport:
    last: date | None = parse_day(until, "until") if until.strip() else None
    report: WeeklyReport = request.app.state.app.reports(user.actor).weekly(until=last)
    return report


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def _download(export: Export) -> StreamingResponse:
    return StreamingResponse(
        export.lines(), media_type="text/csv; charset=utf-8", headers=_attachment(export.filename)
    )


def _export_page(
    request: Request,
    user: StaffUser,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    first: str = "",
    last: str = "",
    bodies: bool = False,
) -> Response:
    return page(request, "export.html", user, status_code=status_code, title="Export", nav="export",
                errors=errors or {}, first=first, last=last, bodies=bodies)  # fmt: skip
