"""Demo organisations for trying Keel: ``keel demo --preset small|enterprise``.

*small* is the seed's small company (S9): one coordinator who is agent, team lead and change
manager at once, one team, one calendar. *enterprise* has several departments, teams with an
escalation chain, calendars in two time zones, and people who work in English or Chinese.
Everything is created through the same actions as real data, so it is audited like real data.
"""

from __future__ import annotations

from datetime import time
from typing import Any

from django.db import transaction
from django.utils import timezone

from keel.core import actions
from keel.core.models import Language, User
from keel.core.roles import Role

DEMO_PASSWORD = "keel-demo-2026"  # noqa: S105  (a published demo password, by design)

WEEKDAYS = range(5)
OFFICE_HOURS = [(d, time(9), time(18)) for d in WEEKDAYS]
CHINA_OFFICE_HOURS = [
    p for d in WEEKDAYS for p in ((d, time(9), time(12)), (d, time(13), time(18)))
]

# username, name, roles, language, what the log-in is for
SMALL_PEOPLE = [
    ("admin", "Alex Admin", [Role.ADMINISTRATOR], Language.ENGLISH, "administrator"),
    (
        "coordinator",
        "Sam Coordinator",
        [Role.AGENT, Role.TEAM_LEAD, Role.CHANGE_MANAGER],
        Language.ENGLISH,
        "the IT coordinator: agent, team lead and change manager",
    ),
    ("alice", "Alice Brown", [Role.REQUESTER], Language.ENGLISH, "an employee who reports faults"),
    ("wangfang", "王芳", [Role.REQUESTER], Language.CHINESE, "员工（中文界面）"),
]

ENTERPRISE_PEOPLE = [
    ("admin", "Alex Admin", [Role.ADMINISTRATOR], Language.ENGLISH, "administrator", None),
    ("emma", "Emma Clark", [Role.AGENT], Language.ENGLISH, "service-desk agent", None),
    ("lina", "李娜", [Role.AGENT], Language.CHINESE, "服务台坐席", None),
    (
        "omar",
        "Omar Haddad",
        [Role.AGENT, Role.TEAM_LEAD],
        Language.ENGLISH,
        "team lead, service desk",
        None,
    ),
    (
        "zhangwei",
        "张伟",
        [Role.AGENT, Role.TEAM_LEAD],
        Language.CHINESE,
        "网络与基础设施组长",
        None,
    ),
    ("priya", "Priya Nair", [Role.AGENT], Language.ENGLISH, "desktop support engineer", None),
    ("chenjie", "陈杰", [Role.CHANGE_MANAGER], Language.CHINESE, "变更经理", None),
    ("sofia", "Sofia Rossi", [Role.SERVICE_OWNER], Language.ENGLISH, "service owner", None),
    ("audrey", "Audrey Martin", [Role.AUDITOR], Language.ENGLISH, "internal auditor", None),
    ("liuyang", "刘洋", [Role.REQUESTER], Language.CHINESE, "财务部经理（部门经理）", "finance"),
    ("zhaomin", "赵敏", [Role.REQUESTER], Language.CHINESE, "财务部员工", "finance"),
    ("james", "James Wilson", [Role.REQUESTER], Language.ENGLISH, "sales employee", "sales"),
    ("anna", "Anna Schmidt", [Role.REQUESTER], Language.ENGLISH, "HR employee", "hr"),
]

PRESETS = ("small", "enterprise")


def existing_logins() -> list[tuple[str, str, str]]:
    """The demo log-ins present in this database, for the start-up banner."""
    people = {p[0]: p[4] for p in SMALL_PEOPLE} | {p[0]: p[4] for p in ENTERPRISE_PEOPLE}
    try:
        found = set(
            User.objects.filter(username__in=people, is_active=True).values_list(
                "username", flat=True
            )
        )
    except Exception:  # no tables yet: nothing to show
        return []
    return [(u, DEMO_PASSWORD, people[u]) for u in people if u in found]


def has_people() -> bool:
    return User.objects.filter(is_system=False).exists()


def _load_holidays(calendar: Any, actor: User, country: str) -> None:
    from keel.core.calendars import load_public_holidays

    year = timezone.now().year
    load_public_holidays(calendar=calendar, actor=actor, country=country, years=[year, year + 1])


def _person(
    actor: User, username: str, name: str, roles: list[Role], language: str, **extra: Any
) -> User:
    return actions.create_user(
        actor=actor,
        username=username,
        name=name,
        email=f"{username}@example.com",
        password=DEMO_PASSWORD,
        roles=[r.value for r in roles],
        language=language,
        **extra,
    )


@transaction.atomic
def load_small() -> None:
    actor = actions.system_user()
    calendar = actions.create_calendar(
        actor=actor,
        name="Office hours",
        time_zone="Asia/Shanghai",
        periods=CHINA_OFFICE_HOURS,
        country="CN",
    )
    _load_holidays(calendar, actor, "CN")
    organisation = actions.create_organisation(
        actor=actor,
        name="Lakeside Trading",
        code="lakeside",
        time_zone="Asia/Shanghai",
        calendar=calendar,
    )
    office = actions.create_department(
        actor=actor, organisation=organisation, name="Office", code="office"
    )
    people = {
        username: _person(
            actor, username, name, roles, lang, department=office, time_zone="Asia/Shanghai"
        )
        for username, name, roles, lang, _what in SMALL_PEOPLE
    }
    it = actions.create_team(
        actor=actor,
        name="IT",
        code="it",
        lead=people["coordinator"],
        email="it@example.com",
        description="Everything IT: faults, requests and changes.",
        calendar=calendar,
    )
    services = _catalogue(actor, dict.fromkeys(SERVICES, (it, calendar, None)))
    _estate(actor, it, services, people)
    _sample_incidents(
        people["coordinator"],
        services,
        [
            (
                "alice",
                "laptops",
                "My laptop does not start",
                "Black screen after the logo since this morning.",
                2,
                1,
                "new",
            ),
            (
                "wangfang",
                "network",
                "无法连接公司 Wi-Fi",
                "会议室的无线网络一直连不上，其他同事也一样。",
                2,
                2,
                "in_progress",
            ),
            (
                "alice",
                "printing",
                "Printer on the second floor jams",
                "Every second page jams in tray 2.",
                3,
                3,
                "resolved",
            ),
        ],
    )


@transaction.atomic
def load_enterprise() -> None:
    actor = actions.system_user()
    shanghai = actions.create_calendar(
        actor=actor,
        name="Shanghai office",
        time_zone="Asia/Shanghai",
        periods=CHINA_OFFICE_HOURS,
        country="CN",
        description="上海办公室工作时间（含法定节假日与调休工作日）",
    )
    _load_holidays(shanghai, actor, "CN")
    london = actions.create_calendar(
        actor=actor,
        name="London office",
        time_zone="Europe/London",
        periods=OFFICE_HOURS,
        country="GB",
    )
    _load_holidays(london, actor, "GB")
    extended = actions.create_calendar(
        actor=actor,
        name="Extended support",
        time_zone="Asia/Shanghai",
        periods=[(d, time(7), time(22)) for d in range(7)],
        description="Seven days a week, 07:00–22:00.",
    )
    around_the_clock = actions.create_calendar(
        actor=actor,
        name="24×7",
        time_zone="UTC",
        periods=[(d, time(0), time(0)) for d in range(7)],
        description="Around the clock, every day: for the data centre and the network.",
    )
    organisation = actions.create_organisation(
        actor=actor,
        name="Northwind Group",
        code="northwind",
        time_zone="Asia/Shanghai",
        calendar=shanghai,
    )
    departments = {
        code: actions.create_department(
            actor=actor, organisation=organisation, name=name, code=code
        )
        for code, name in [
            ("finance", "财务部 Finance"),
            ("sales", "Sales"),
            ("hr", "Human Resources"),
            ("operations", "运营部 Operations"),
            ("it", "IT"),
        ]
    }
    people: dict[str, User] = {}
    for username, name, roles, lang, _what, dept in ENTERPRISE_PEOPLE:
        zone = "Asia/Shanghai" if lang == Language.CHINESE else "Europe/London"
        people[username] = _person(
            actor, username, name, roles, lang, department=departments[dept or "it"], time_zone=zone
        )
    actions.set_department_manager(
        actor=actor, department=departments["finance"], manager=people["liuyang"]
    )
    infrastructure = actions.create_team(
        actor=actor,
        name="Network & Infrastructure",
        code="infra",
        lead=people["zhangwei"],
        email="infra@example.com",
        calendar=around_the_clock,
    )
    desktop = actions.create_team(
        actor=actor,
        name="Desktop Support",
        code="desktop",
        lead=people["priya"],
        email="desktop@example.com",
        calendar=london,
        next_level=infrastructure,
    )
    desk = actions.create_team(
        actor=actor,
        name="Service Desk",
        code="desk",
        lead=people["omar"],
        members=[people["emma"], people["lina"]],
        email="servicedesk@example.com",
        description="First line: every call, e-mail and portal report starts here.",
        calendar=extended,
        next_level=desktop,
    )
    owner = people["sofia"]
    services = _catalogue(
        actor,
        {
            "laptops": (desk, shanghai, owner),
            "email": (desk, shanghai, owner),
            "network": (infrastructure, around_the_clock, owner),
            "printing": (desktop, london, None),
            "erp": (desk, around_the_clock, owner),
        },
    )
    _estate(actor, desk, services, people)
    _sample_incidents(
        people["emma"],
        services,
        [
            (
                "zhaomin",
                "erp",
                "月末结账时 ERP 报错",
                "过账时提示“数据库连接超时”，财务部全员无法结账。",
                1,
                1,
                "new",
            ),
            (
                "james",
                "email",
                "Outlook keeps asking for my password",
                "Since the update this morning.",
                3,
                2,
                "new",
            ),
            (
                "liuyang",
                "laptops",
                "笔记本电脑电池无法充电",
                "电源指示灯不亮。",
                3,
                2,
                "in_progress",
            ),
            (
                "anna",
                "printing",
                "HR printer prints blank pages",
                "Toner was replaced last week.",
                3,
                3,
                "on_hold",
            ),
            (
                "james",
                "network",
                "VPN drops every 10 minutes",
                "Working from home; the VPN disconnects regularly.",
                2,
                2,
                "resolved",
            ),
        ],
    )


# code: (name, description, criticality)
SERVICES = {
    "laptops": ("Laptops and desktops", "Company computers, their set-up and repair.", "medium"),
    "email": ("E-mail and calendar", "Mailboxes, calendars and shared mailboxes.", "high"),
    "network": ("Network and Wi-Fi", "Office network, Wi-Fi and VPN.", "high"),
    "printing": ("Printing", "Printers, scanners and copiers.", "low"),
    "erp": ("ERP", "Finance, purchasing and stock (the ERP system).", "critical"),
}

CATEGORIES = {
    ("hardware", "Hardware"): [
        ("laptop", "Laptop"),
        ("desktop", "Desktop"),
        ("printer", "Printer"),
    ],
    ("software", "Software"): [("install", "Installation"), ("error", "Error message")],
    ("network-cat", "Network"): [("wifi", "Wi-Fi"), ("vpn", "VPN")],
    ("access", "Access"): [("password", "Password reset"), ("account", "New account")],
}


def _catalogue(actor: User, routing: dict[str, tuple[Any, Any, Any]]) -> dict[str, Any]:
    """Services routed to teams on calendars, and the category tree."""
    from keel.catalog import actions as catalog

    services = {}
    for code, (team, calendar, owner) in routing.items():
        name, description, criticality = SERVICES[code]
        services[code] = catalog.create_service(
            actor=actor,
            name=name,
            code=code,
            team=team,
            calendar=calendar,
            owner=owner,
            description=description,
            criticality=criticality,
        )
    if "erp" in services:
        # The critical ERP service promises more than the defaults.
        catalog.set_service_targets(
            actor=actor, service=services["erp"], targets={1: (10, 120), 2: (20, 240), 3: (60, 960)}
        )
    for (code, name), children in CATEGORIES.items():
        parent = catalog.create_category(actor=actor, name=name, code=code)
        for child_code, child_name in children:
            catalog.create_category(actor=actor, name=child_name, code=child_code, parent=parent)
    return services


def _estate(actor: User, team: Any, services: dict[str, Any], people: dict[str, User]) -> None:
    """A few configuration items and how they depend on each other, for the CMDB pages."""
    from datetime import timedelta

    from keel.cmdb import actions as cmdb
    from keel.cmdb.models import CIType, RelationKind

    types = {t.code: t for t in CIType.objects.all()}
    kinds = {k.code: k for k in RelationKind.objects.all()}
    if (
        not {"laptop", "server", "application", "business-service"} <= set(types)
        or "runs-on" not in kinds
    ):
        return  # the default types and kinds were removed; the estate is only an example
    today = timezone.localdate()
    in_service = "in_service"

    def item(name: str, type_code: str, **values: Any) -> Any:
        return cmdb.create_ci(
            actor=actor, name=name, ci_type=types[type_code], status=in_service, team=team, **values
        )

    laptops = (
        ("alice", "ThinkPad T14"),
        ("wangfang", "MacBook Air"),
        ("james", "ThinkPad X1"),
        ("zhaomin", "MacBook Pro"),
    )
    for username, model in laptops:
        if username in people:
            item(
                f"{people[username].display_name} — {model}",
                "laptop",
                assigned_to=people[username],
                department=people[username].department,
                warranty_expires=today
                + timedelta(days=20 if username in {"alice", "james"} else 400),
                attributes={"model": model, "serial_number": f"SN-{people[username].pk:05d}"},
            )
    server = item(
        "srv-mail-01",
        "server",
        location="Server room",
        attributes={"hostname": "srv-mail-01", "ram_gb": 32},
    )
    mail = item(
        "Mail server", "application", attributes={"vendor": "Example Mail", "version": "9.2"}
    )
    cmdb.add_relation(actor=actor, source=mail, target=server, kind=kinds["runs-on"])
    if "email" in services:
        business = item("E-mail service", "business-service", service=services["email"])
        cmdb.add_relation(actor=actor, source=business, target=mail, kind=kinds["depends-on"])


def _sample_incidents(agent: User, services: dict[str, Any], rows: list[tuple]) -> None:
    """A few incidents in different states, reported and worked through the real actions."""
    from keel.incidents import actions as incidents

    for username, service, title, description, impact, urgency, state in rows:
        requester = User.objects.get(username=username)
        incident = incidents.open_incident(
            actor=requester,
            title=title,
            description=description,
            service=services[service],
            impact=impact,
            urgency=urgency,
            notify_requester=False,
        )
        if state == "new":
            continue
        member = (
            agent
            if agent.memberships.filter(team_id=incident.team_id).exists()
            else incident.team.lead
        )
        incident = incidents.assign(actor=member, incident=incident, assignee=member)
        incident = incidents.start(actor=member, incident=incident)
        if state == "on_hold":
            incidents.hold(
                actor=member,
                incident=incident,
                reason="awaiting_supplier",
                note="Waiting for the toner supplier.",
            )
        elif state == "resolved":
            incidents.resolve(
                actor=member,
                incident=incident,
                code="fixed",
                notes="Fixed; please check that it works for you.",
            )


def load(preset: str) -> None:
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose {' or '.join(PRESETS)}")
    (load_small if preset == "small" else load_enterprise)()
