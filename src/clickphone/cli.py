"""The ``clickphone`` command: serve, migrate and provisioning (tenants, users, numbers,
operators, trunks).

Every command takes ``--data-dir`` (default ./var, or CLICKPHONE_DATA_DIR) and honours
CLICKPHONE_DATABASE_URL, so provisioning works against a running server's data. Bad input
exits non-zero with a one-line error on stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy import select

from clickphone import __version__
from clickphone.accounts.errors import ClickPhoneError
from clickphone.accounts.scope import Actor
from clickphone.accounts.service import AccountService
from clickphone.config import ConfigError, Settings, load_settings, parse_hostport
from clickphone.db import Database
from clickphone.db.migrate import upgrade
from clickphone.db.models import Department
from clickphone.directory.service import DirectoryService
from clickphone.logging import configure_logging
from clickphone.numbers.service import NumberService

# Provisioning from the CLI acts with operator rights (whoever can run it owns the data).
CLI_ACTOR = Actor(user_id=0, role="operator_admin", tenant_id=None, email="cli")


class CliError(Exception):
    pass


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", metavar="D", help="data folder (default ./var or $CLICKPHONE_DATA_DIR)"
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file ($CLICKPHONE_CONFIG)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clickphone", description="ClickPhone cloud phone system (virtual PBX)."
    )
    parser.add_argument("--version", action="version", version=f"clickphone {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the web cabinet, API and SIP server")
    _common(p)
    p.add_argument("--http", metavar="HOST:PORT", help="HTTP address (default 127.0.0.1:8080)")
    p.add_argument("--sip", metavar="HOST:PORT", help="SIP address (default 0.0.0.0:5060)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="apply database migrations")
    _common(p)
    p.set_defaults(func=cmd_migrate)

    tenant = sub.add_parser("tenant", help="manage tenants").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = tenant.add_parser("create", help="create a company (or individual) with its owner")
    _common(p)
    p.add_argument("name", help="company name")
    p.add_argument("--owner-email", required=True, metavar="E")
    p.add_argument("--owner-password", required=True, metavar="P")
    p.add_argument("--owner-name", default="", metavar="N", help="owner's full name")
    p.add_argument("--kind", choices=["company", "individual"], default="company")
    p.set_defaults(func=cmd_tenant_create)

    user = sub.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = user.add_parser("create", help="create an employee with a SIP device")
    _common(p)
    p.add_argument("--tenant", required=True, metavar="T", help="tenant id, customer no. or name")
    p.add_argument("--name", required=True, metavar="N", help="full name")
    p.add_argument("--email", required=True, metavar="E")
    p.add_argument("--password", required=True, metavar="P", help="sign-in password")
    p.add_argument("--extension", metavar="EXT", help="extension (default: next free, 101+)")
    p.add_argument("--sip-password", metavar="S", help="SIP password (default: generated)")
    p.add_argument("--department", metavar="D", help="department name (created if missing)")
    p.add_argument("--position", default="", metavar="TEXT")
    p.add_argument("--role", choices=["employee", "tenant_admin"], default="employee")
    p.add_argument("--no-device", action="store_true", help="do not create a SIP device")
    p.add_argument(
        "--auth-algorithms", metavar="LIST", help="digest algorithms, e.g. MD5 or SHA-256,MD5"
    )
    p.set_defaults(func=cmd_user_create)

    number = sub.add_parser("number", help="manage the number inventory").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = number.add_parser("add", help="add a virtual number (E.164) to the inventory")
    _common(p)
    p.add_argument("e164", help="number in E.164, e.g. +74951234567")
    p.add_argument("--tenant", metavar="T", help="assign to this tenant")
    p.add_argument("--label", default="")
    p.set_defaults(func=cmd_number_add)

    operator = sub.add_parser("operator", help="ClickPhone office staff").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = operator.add_parser("create", help="create an operator (office) account")
    _common(p)
    p.add_argument("--email", required=True, metavar="E")
    p.add_argument("--password", required=True, metavar="P")
    p.add_argument("--name", default="ClickPhone operator", metavar="N")
    p.set_defaults(func=cmd_operator_create)

    _trunk_parsers(sub)
    return parser


def _trunk_options(p: argparse.ArgumentParser, *, create: bool) -> None:
    _common(p)
    p.add_argument("--kind", choices=["ip", "registration"], default="ip" if create else None)
    p.add_argument("--host", required=create, metavar="H", help="carrier host or address")
    p.add_argument("--port", type=int, metavar="N")
    p.add_argument("--transport", choices=["UDP", "TCP"])
    p.add_argument("--username", metavar="U", help="registration trunks: the carrier account")
    p.add_argument("--password", metavar="P", help="stored encrypted; '' removes it")
    p.add_argument("--outbound-proxy", metavar="HOST[:PORT]")
    p.add_argument("--from-domain", metavar="D")
    p.add_argument("--register-expires", type=int, metavar="S")
    p.add_argument("--allowed", metavar="LIST", help="IPs/CIDRs calls come from (comma list)")
    p.add_argument("--codecs", metavar="LIST", help="e.g. PCMA,PCMU,telephone-event")
    p.add_argument("--prefixes", metavar="LIST", help="E.164 prefixes served, e.g. +7,+375")
    p.add_argument("--priority", type=int, metavar="N", help="failover order (lower first)")
    p.add_argument("--rate", type=int, metavar="N", help="cost per minute in minor units")
    p.add_argument("--number-format", choices=["e164", "plain"])
    p.add_argument("--max-channels", type=int, metavar="N")
    p.add_argument("--max-cps", type=float, metavar="N")
    p.add_argument("--options-interval", type=int, metavar="S", help="0: no OPTIONS pings")
    p.add_argument("--smpp-host", metavar="H", help="the carrier's SMSC (SMS over SMPP 3.4)")
    p.add_argument("--smpp-port", type=int, metavar="N", help="SMPP port (default 2775)")
    p.add_argument("--smpp-system-id", metavar="ID", help="SMPP account (system_id)")
    p.add_argument("--smpp-password", metavar="P", help="SMPP password (stored encrypted)")
    p.add_argument("--smpp-system-type", metavar="T")
    p.add_argument("--sms-rate", type=int, metavar="N", help="cost per SMS part, minor units")
    if create:
        p.add_argument("--tenant", metavar="T", help="a tenant's own trunk (default: operator)")
    else:
        p.add_argument("--enable", dest="enabled", action="store_true", default=None)
        p.add_argument("--disable", dest="enabled", action="store_false")


def _trunk_parsers(sub: Any) -> None:
    trunk = sub.add_parser("trunk", help="manage carrier trunks").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    p = trunk.add_parser("add", help="add a SIP trunk to a carrier")
    p.add_argument("name")
    _trunk_options(p, create=True)
    p.set_defaults(func=cmd_trunk_add)
    p = trunk.add_parser("list", help="list trunks")
    _common(p)
    p.set_defaults(func=cmd_trunk_list)
    p = trunk.add_parser("show", help="show one trunk")
    p.add_argument("trunk", help="trunk id or name")
    _common(p)
    p.set_defaults(func=cmd_trunk_show)
    p = trunk.add_parser("set", help="change a trunk")
    p.add_argument("trunk", help="trunk id or name")
    _trunk_options(p, create=False)
    p.set_defaults(func=cmd_trunk_set)
    p = trunk.add_parser("remove", help="delete a trunk")
    p.add_argument("trunk", help="trunk id or name")
    _common(p)
    p.set_defaults(func=cmd_trunk_remove)


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return load_settings(args.config, data_dir=args.data_dir, **extra)


async def _with_db(settings: Settings, fn: Callable[[Database], Awaitable[None]]) -> None:
    db = Database(settings.effective_database_url)
    try:
        await upgrade(db)
        await fn(db)
    finally:
        await db.dispose()


def cmd_migrate(args: argparse.Namespace) -> None:
    settings = settings_from(args)

    async def run(db: Database) -> None:
        from clickphone.db.migrate import current_revision

        print(f"database at revision {await current_revision(db)}")

    asyncio.run(_with_db(settings, run))


def cmd_tenant_create(args: argparse.Namespace) -> None:
    settings = settings_from(args)

    async def run(db: Database) -> None:
        async with db.session() as session:
            tenant, user = await AccountService().create_tenant_with_owner(
                session,
                name=args.name,
                kind=args.kind,
                email=args.owner_email,
                password=args.owner_password,
                full_name=args.owner_name,
            )
            await session.commit()
            print(f"tenant_id={tenant.id}")
            print(f"customer_number={tenant.customer_number}")
            print(f"owner_user_id={user.id}")

    if not args.name.strip():
        raise CliError("the tenant name must not be empty")
    asyncio.run(_with_db(settings, run))


def cmd_user_create(args: argparse.Namespace) -> None:
    settings = settings_from(args)
    if args.extension is not None and not (
        args.extension.isdigit() and 2 <= len(args.extension) <= 8
    ):
        raise CliError(f"bad extension {args.extension!r}: use 2 to 8 digits")
    algorithms = args.auth_algorithms.split(",") if args.auth_algorithms else None

    async def run(db: Database) -> None:
        async with db.session() as session:
            tenant = await AccountService().find_tenant(session, args.tenant)
            department_id = None
            if args.department:
                dep = await session.scalar(
                    select(Department).where(
                        Department.tenant_id == tenant.id, Department.name == args.department
                    )
                )
                if dep is None:
                    dep = Department(tenant_id=tenant.id, name=args.department, description="")
                    session.add(dep)
                    await session.flush()
                department_id = dep.id
            new = await DirectoryService(realm=settings.sip_realm).create_employee(
                session,
                CLI_ACTOR,
                full_name=args.name,
                email=args.email,
                password=args.password,
                position=args.position,
                extension=args.extension,
                department_id=department_id,
                role=args.role,
                tenant_id=tenant.id,
                create_device=not args.no_device,
                sip_password=args.sip_password,
                auth_algorithms=algorithms,
            )
            print(f"user_id={new.user.id}")
            print(f"employee_id={new.employee.id}")
            print(f"extension={new.employee.extension}")
            if new.device is not None:
                print(f"sip_username={new.device.device.sip_username}")
                print(f"sip_realm={settings.sip_realm}")
                if args.sip_password is None:
                    print(f"sip_password={new.device.sip_password}")

    asyncio.run(_with_db(settings, run))


def cmd_number_add(args: argparse.Namespace) -> None:
    settings = settings_from(args)

    async def run(db: Database) -> None:
        async with db.session() as session:
            tenant_id = None
            if args.tenant:
                tenant_id = (await AccountService().find_tenant(session, args.tenant)).id
            row = await NumberService().add_unchecked(
                session, args.e164, tenant_id=tenant_id, label=args.label
            )
            print(f"number_id={row.id}")
            print(f"e164={row.e164}")
            print(f"state={row.state}")

    asyncio.run(_with_db(settings, run))


def cmd_operator_create(args: argparse.Namespace) -> None:
    settings = settings_from(args)

    async def run(db: Database) -> None:
        from clickphone.accounts.passwords import hash_password
        from clickphone.accounts.service import (
            check_password_strength,
            email_conflict,
            email_taken,
            normalize_email,
        )
        from clickphone.db.models import User

        async with db.session() as session:
            check_password_strength(args.password)
            if await email_taken(session, args.email):
                raise email_conflict()
            user = User(
                tenant_id=None,
                email=normalize_email(args.email),
                password_hash=hash_password(args.password),
                full_name=args.name,
                role="operator_admin",
            )
            session.add(user)
            await session.commit()
            print(f"user_id={user.id}")
            print(f"email={user.email}")
            print("role=operator_admin")

    asyncio.run(_with_db(settings, run))


_TRUNK_LISTS = {"allowed": "allowed_addresses", "codecs": "codecs", "prefixes": "prefixes"}
_TRUNK_FIELDS = (
    "kind",
    "host",
    "port",
    "transport",
    "username",
    "password",
    "outbound_proxy",
    "from_domain",
    "register_expires",
    "priority",
    "number_format",
    "max_channels",
    "max_cps",
    "options_interval",
    "enabled",
    "smpp_host",
    "smpp_port",
    "smpp_system_id",
    "smpp_password",
    "smpp_system_type",
    "sms_rate",
)


def _trunk_fields(args: argparse.Namespace, model: type[Any]) -> dict[str, Any]:
    """The options given, validated like the API's body (same messages on errors)."""
    from pydantic import ValidationError

    raw: dict[str, Any] = {}
    for key in _TRUNK_FIELDS:
        value = getattr(args, key, None)
        if value is not None:
            raw[key] = value
    for option, key in _TRUNK_LISTS.items():
        value = getattr(args, option, None)
        if value is not None:
            raw[key] = [v.strip() for v in value.split(",") if v.strip()]
    if getattr(args, "rate", None) is not None:
        raw["rate_per_minute"] = args.rate
    if getattr(args, "name", None) is not None:
        raw["name"] = args.name
    try:
        body = model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err.get("loc", ())) or "value"
        raise CliError(f"{where}: {err.get('msg')}") from None
    fields: dict[str, Any] = body.model_dump(exclude_unset=True)
    return fields


async def _find_trunk(session: Any, ref: str) -> Any:
    from clickphone.db.models import Trunk

    row = None
    if ref.isdigit():
        row = await session.get(Trunk, int(ref))
    if row is None:
        row = await session.scalar(select(Trunk).where(Trunk.name == ref))
    if row is None:
        raise CliError(f"no trunk {ref!r}")
    return row


def _print_trunk(row: Any) -> None:
    from clickphone.trunks.service import trunk_out

    for key, value in trunk_out(row).items():
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        print(f"{key}={'' if value is None else value}")


def _trunk_run(args: argparse.Namespace, fn: Callable[[Any, Any], Awaitable[None]]) -> None:
    from clickphone.trunks.secrets import TrunkSecrets, encrypt_stored_passwords

    settings = settings_from(args)
    secrets = TrunkSecrets(settings.ensure_secret_key())

    async def run(db: Database) -> None:
        await encrypt_stored_passwords(db, secrets)
        async with db.session() as session:
            await fn(session, secrets)

    asyncio.run(_with_db(settings, run))


def cmd_trunk_add(args: argparse.Namespace) -> None:
    from clickphone.trunks.schemas import TrunkIn
    from clickphone.trunks.service import TrunkService

    fields = _trunk_fields(args, TrunkIn)

    async def run(session: Any, secrets: Any) -> None:
        if args.tenant:
            fields["tenant_id"] = (await AccountService().find_tenant(session, args.tenant)).id
        row = await TrunkService().create(session, CLI_ACTOR, fields, secrets)
        _print_trunk(row)

    _trunk_run(args, run)


def cmd_trunk_list(args: argparse.Namespace) -> None:
    from clickphone.trunks.service import TrunkService

    async def run(session: Any, _secrets: Any) -> None:
        rows = await TrunkService().list(session, CLI_ACTOR)
        print(f"{'id':>4}  {'name':<20} {'kind':<12} {'host':<24} {'prio':>4}  codecs  enabled")
        for t in rows:
            codecs = ",".join(t.codecs or []) or "-"
            enabled = "yes" if t.enabled else "no"
            where = f"{t.host}:{t.port}"
            print(
                f"{t.id:>4}  {t.name:<20} {t.kind:<12} {where:<24} {t.priority:>4}  "
                f"{codecs}  {enabled}"
            )

    _trunk_run(args, run)


def cmd_trunk_show(args: argparse.Namespace) -> None:
    async def run(session: Any, _secrets: Any) -> None:
        _print_trunk(await _find_trunk(session, args.trunk))

    _trunk_run(args, run)


def cmd_trunk_set(args: argparse.Namespace) -> None:
    from clickphone.trunks.schemas import TrunkPatch
    from clickphone.trunks.service import TrunkService

    fields = _trunk_fields(args, TrunkPatch)
    if not fields:
        raise CliError("nothing to change: give at least one option")

    async def run(session: Any, secrets: Any) -> None:
        row = await _find_trunk(session, args.trunk)
        row = await TrunkService().update(session, CLI_ACTOR, row.id, fields, secrets)
        _print_trunk(row)

    _trunk_run(args, run)


def cmd_trunk_remove(args: argparse.Namespace) -> None:
    from clickphone.trunks.service import TrunkService

    async def run(session: Any, _secrets: Any) -> None:
        row = await _find_trunk(session, args.trunk)
        await TrunkService().delete(session, CLI_ACTOR, row.id)
        print(f"removed={row.name}")

    _trunk_run(args, run)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from clickphone.app import build_runtime

    extra: dict[str, Any] = {}
    if args.http:
        extra["http_host"], extra["http_port"] = parse_hostport(args.http, "127.0.0.1")
    if args.sip:
        extra["sip_host"], extra["sip_port"] = parse_hostport(args.sip, "0.0.0.0")
    settings = settings_from(args, **extra)
    settings.check_production()
    configure_logging(settings.log_level, json=settings.log_json)
    runtime = build_runtime(settings, telephony=settings.sip_enabled)
    config = uvicorn.Config(
        runtime.app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        proxy_headers=False,
        server_header=False,
    )
    server = uvicorn.Server(config)
    server.run()
    if not server.started:
        raise CliError(
            f"could not start the HTTP server on {settings.http_host}:{settings.http_port}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (ClickPhoneError, ConfigError, CliError) as exc:
        message = str(exc)
        fields = (
            getattr(exc, "details", {}).get("fields") if isinstance(exc, ClickPhoneError) else None
        )
        if fields:
            message += " (" + "; ".join(f"{k}: {v}" for k, v in fields.items()) + ")"
        print(f"clickphone: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        print(f"clickphone: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
