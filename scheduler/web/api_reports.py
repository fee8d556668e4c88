"""API routes for the weekly figures, as `reminders report` prints them."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request

from scheduler.services.reports import MAX_WEEKS, WEEKS
from scheduler.services.results import WeeklyReport
from scheduler.web.api_common import INVALID, Client, call


def routes(router: APIRouter) -> None:
    @router.get(
        "/reports/weekly",
        tags=["reports"],
        summary="Weekly figures",
        operation_id="weeklyReport",
        response_model=WeeklyReport,
        responses={422: INVALID},
        description="Per week, oldest first: sessions attended and missed, confirm requests and "
        "the share confirmed, opt-outs, texts failed and expired. Weeks are the clinic's, Monday "
        "00:00 to Monday 00:00 in its time zone; the last is the week holding `until`.",
    )
    def weekly(
        request: Request,
        client: Client,
        weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS, description="How many weeks.")] = WEEKS,
        until: Annotated[
            date | None, Query(description="A day of the last week (YYYY-MM-DD); today by default.")
        ] = None,
    ) -> WeeklyReport:
        reports = request.app.state.app.reports(f"api:{client}")
        report: WeeklyReport = call(
            lambda: reports.weekly(weeks, until),
            fields={"weeks": ("query", "weeks"), "until": ("query", "until")},
        )
        return report
