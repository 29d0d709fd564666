"""Who is acting, and the one tenant filter every query uses.

``scoped(stmt, Model, actor)`` adds ``Model.tenant_id == actor.tenant_id`` unless the actor
is operator staff. ``get_scoped`` loads one row by id and turns "another tenant's row" into
``NotFound`` — indistinguishable from a missing row, so ids can't be probed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from clickphone.accounts.errors import NotFound, PermissionDenied, ValidationFailed

T = TypeVar("T")

OPERATOR = "operator_admin"
TENANT_ADMINS = frozenset({"tenant_owner", "tenant_admin"})


@dataclass(frozen=True, slots=True)
class Actor:
    user_id: int
    role: str
    tenant_id: int | None
    email: str = ""
    via_token: bool = False

    @property
    def is_operator(self) -> bool:
        return self.role == OPERATOR

    @property
    def is_tenant_admin(self) -> bool:
        return self.role in TENANT_ADMINS

    @property
    def can_manage_tenant(self) -> bool:
        return self.is_operator or self.is_tenant_admin

    def require_operator(self) -> None:
        if not self.is_operator:
            raise PermissionDenied("only ClickPhone operator staff may do this")

    def require_manager(self) -> None:
        if not self.can_manage_tenant:
            raise PermissionDenied("only the company's owner or administrators may do this")

    def require_company_member(self) -> None:
        """Directory features are for companies (and operator staff), not individuals."""
        if self.role == "individual":
            raise PermissionDenied("this feature is for company accounts")

    def tenant_for_create(self, requested: int | None) -> int:
        """The tenant a new record goes to: the actor's own; operators must name one."""
        if self.is_operator:
            if requested is None:
                raise ValidationFailed({"tenant_id": "operator staff must name the tenant"})
            return requested
        assert self.tenant_id is not None
        if requested is not None and requested != self.tenant_id:
            raise PermissionDenied("you may not create records in another tenant")
        return self.tenant_id


def scoped(stmt: Select[Any], model: Any, actor: Actor) -> Select[Any]:
    """Restrict ``stmt`` to the actor's tenant (operator staff see every tenant)."""
    if actor.is_operator:
        return stmt
    return stmt.where(model.tenant_id == actor.tenant_id)


async def get_scoped(session: AsyncSession, model: type[T], ident: int, actor: Actor) -> T:
    row = await session.get(model, ident)
    if row is None or (
        not actor.is_operator and getattr(row, "tenant_id", None) != actor.tenant_id
    ):
        raise NotFound(f"{getattr(model, '__tablename__', 'record')} {ident} not found")
    return row
