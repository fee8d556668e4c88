"""The Staff page, for admins: accounts (add, disable, enable, reset) and API tokens (create,
revoke). A new password or token is shown once, in the answer to the form that made it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.errors import InvalidInput
from scheduler.services.accounts import Accounts, StaffUser
from scheduler.services.api_tokens import ApiTokens
from scheduler.web.admin.common import PostedForm, field, problem, see
from scheduler.web.pages import flash, page
from scheduler.web.security import admin_user

Admin = Annotated[StaffUser, Depends(admin_user)]


def routes(router: APIRouter) -> None:
    def staff_page(request: Request, user: StaffUser, status: int = 200, **shown: str) -> Response:
        accounts: Accounts = request.app.state.accounts
        tokens: ApiTokens = request.app.state.api_tokens
        return page(
            request,
            "staff.html",
            user,
            status_code=status,
            title="Staff",
            nav="staff",
            accounts=accounts.list_users(),
            tokens=tokens.list(),
            **shown,
        )

    @router.get("/staff", response_class=HTMLResponse)
    def staff(request: Request, user: Admin) -> Response:
        return staff_page(request, user)

    @router.post("/staff/accounts", response_class=HTMLResponse)
    def add_account(request: Request, user: Admin, form: PostedForm) -> Response:
        accounts: Accounts = request.app.state.accounts
        try:
            added, password = accounts.add_user(
                field(form, "email", 254), admin=field(form, "admin") == "yes"
            )
        except InvalidInput as exc:
            return staff_page(request, user, status=400, error=str(exc))
        return staff_page(request, user, new_email=added.email, new_password=password)

    @router.post("/staff/accounts/reset", response_class=HTMLResponse)
    def reset(request: Request, user: Admin, form: PostedForm) -> Response:
        accounts: Accounts = request.app.state.accounts
        email = field(form, "email", 254)
        try:
            password = accounts.set_password(email)
        except InvalidInput as exc:
            return staff_page(request, user, status=400, error=str(exc))
        return staff_page(request, user, new_email=email, new_password=password)

    @router.post("/staff/accounts/disable")
    def disable(request: Request, user: Admin, form: PostedForm) -> Response:
        return _set_disabled(request, user, field(form, "email", 254), disabled=True)

    @router.post("/staff/accounts/enable")
    def enable(request: Request, user: Admin, form: PostedForm) -> Response:
        return _set_disabled(request, user, field(form, "email", 254), disabled=False)

    @router.post("/staff/tokens", response_class=HTMLResponse)
    def add_token(request: Request, user: Admin, form: PostedForm) -> Response:
        tokens: ApiTokens = request.app.state.api_tokens
        name = field(form, "name", 100)
        try:
            token = tokens.add(name)
        except InvalidInput as exc:
            return staff_page(request, user, status=400, error=str(exc))
        return staff_page(request, user, token_name=name.strip(), new_token=token)

    @router.post("/staff/tokens/revoke")
    def revoke(request: Request, user: Admin, form: PostedForm) -> Response:
        tokens: ApiTokens = request.app.state.api_tokens
        try:
            tokens.revoke(field(form, "name", 100))
        except InvalidInput as exc:
            problem(request, str(exc))
        else:
            flash(request, "Token revoked: it no longer works.")
        return see("/staff")


def _set_disabled(request: Request, user: StaffUser, email: str, *, disabled: bool) -> Response:
    accounts: Accounts = request.app.state.accounts
    try:
        if disabled and email.strip().lower() == user.email:
            raise InvalidInput("you cannot disable your own account", field="email")
        accounts.set_disabled(email, disabled)
    except InvalidInput as exc:
        problem(request, str(exc))
    else:
        flash(request, "Account disabled: its sign-ins have ended." if disabled else "Account enabled.")
    return see("/staff")
