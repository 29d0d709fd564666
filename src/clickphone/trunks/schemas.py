"""Request/response bodies for trunks, phone settings (dial plan, caller ID) and the blacklist."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from clickphone.api.schemas import OrmModel
from clickphone.trunks.codecs import canonical_codecs

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Host = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^([A-Za-z]{2}|\*)$")]
Prefix = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9]{1,15}$")]


def _check_networks(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or CIDR") from None
    return value


class TrunkFields(BaseModel):
    name: Name | None = None
    kind: Literal["registration", "ip"] | None = None
    host: Host | None = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    transport: Literal["UDP", "TCP"] | None = None
    outbound_proxy: Annotated[str, Field(max_length=300)] | None = None
    username: Annotated[str, Field(max_length=100)] | None = None
    password: Annotated[str, Field(max_length=200)] | None = None
    from_domain: Annotated[str, Field(max_length=255)] | None = None
    register_expires: Annotated[int, Field(ge=30, le=86400)] | None = None
    allowed_addresses: list[str] | None = None
    codecs: list[Annotated[str, Field(max_length=30)]] | None = Field(
        None,
        description="codecs the carrier accepts, in preference order (PCMA, PCMU, G722, opus, "
        "telephone-event, ...); empty: whatever the caller offers",
    )
    prefixes: list[Prefix] | None = None
    priority: Annotated[int, Field(ge=0, le=10000)] | None = None
    rate_per_minute: Annotated[int, Field(ge=0)] | None = Field(
        None, description="cost per minute in minor units (least-cost routing)"
    )
    number_format: Literal["e164", "plain"] | None = None
    max_channels: Annotated[int, Field(ge=1)] | None = None
    max_cps: Annotated[float, Field(gt=0)] | None = None
    options_interval: Annotated[int, Field(ge=0, le=3600)] | None = None
    enabled: bool | None = None
    smpp_host: Annotated[str, Field(max_length=255)] | None = Field(
        None, description="the carrier's SMSC for SMS (SMPP 3.4); empty: no SMS through it"
    )
    smpp_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    smpp_system_id: Annotated[str, Field(max_length=15)] | None = None
    smpp_password: Annotated[str, Field(max_length=8)] | None = Field(
        None, description="the SMPP password (at most 8 characters by SMPP 3.4)"
    )
    smpp_system_type: Annotated[str, Field(max_length=12)] | None = None
    sms_rate: Annotated[int, Field(ge=0)] | None = Field(
        None, description="cost of one SMS part in minor units"
    )

    _networks = field_validator("allowed_addresses")(_check_networks)

    @field_validator("codecs")
    @classmethod
    def _codecs(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else canonical_codecs(value)


class TrunkIn(TrunkFields):
    name: Name
    host: Host
    kind: Literal["registration", "ip"] = "ip"
    tenant_id: int | None = Field(None, description="a tenant's own trunk; empty: the operator's")


class TrunkPatch(TrunkFields):
    pass


class TrunkOut(OrmModel):
    id: int
    tenant_id: int | None
    name: str
    kind: str
    host: str
    port: int
    transport: str
    outbound_proxy: str | None
    username: str | None
    has_password: bool = False
    from_domain: str | None
    register_expires: int
    allowed_addresses: list[str]
    codecs: list[str]
    prefixes: list[str]
    priority: int
    rate_per_minute: int | None
    number_format: str
    max_channels: int | None
    max_cps: float | None
    options_interval: int
    enabled: bool
    created_at: datetime
    smpp_host: str | None = None
    smpp_port: int = 2775
    smpp_system_id: str | None = None
    has_smpp_password: bool = False
    smpp_system_type: str = ""
    sms_rate: int | None = None


class TrunkStateOut(BaseModel):
    trunk_id: int
    running: bool = Field(description="whether this process runs the SIP server")
    state: dict[str, Any] | None


class PhoneSettingsIn(BaseModel):
    default_country: Country | None = None
    allowed_countries: list[Country] | None = Field(
        None, description="ISO countries calls may go to; '*' allows all; empty: own country"
    )
    caller_id_number_id: int | None = None


class PhoneSettingsOut(BaseModel):
    tenant_id: int
    default_country: str
    allowed_countries: list[str]
    caller_id_number_id: int | None


class UserCallerIdIn(BaseModel):
    caller_id_number_id: int | None


class UserCallerIdOut(BaseModel):
    user_id: int
    caller_id_number_id: int | None
    effective_caller_id: str | None


class BlockedIn(BaseModel):
    pattern: Annotated[
        str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()\-]{3,25}\*?$")
    ]
    direction: Literal["both", "inbound", "outbound"] = "both"
    reason: Annotated[str, Field(max_length=200)] = ""
    tenant_id: int | None = Field(None, description="operator staff: empty = every tenant")


class BlockedOut(OrmModel):
    id: int
    tenant_id: int | None
    pattern: str
    direction: str
    reason: str
    created_at: datetime
