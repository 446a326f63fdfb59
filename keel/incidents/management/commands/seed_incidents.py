"""``keel seed_incidents --count N``: bulk-load realistic incidents for benchmarks and load tests.

A test-data tool, not an import: it writes rows straight into the tables in large batches, one
transaction per batch, without going through the actions. To keep the database consistent:

* no audit events are written for seeded rows (the audit chain stays as it was), and
* the ``INC`` number counter is advanced in the same transaction as each batch, so incidents
  recorded afterwards by the real action get the next number, gap-free.

It first makes (or finds, on a re-run) a seeded organisation: departments, requesters, teams of
agents with leads and escalation chains, services routed to those teams on business calendars
(Shanghai and London office hours with public holidays, extended hours, around the clock), and a
category tree. Then it records ``--count`` incidents spread over the last two years, urgent ones
rare as on a real desk (P1 0.1 %, P2 2 %, P3 15 %, P4 50 %, P5 the rest), about
``--open-fraction`` of them still open (mostly recent ones, in every open state). Deadlines are
computed with the real calendar math from the service's targets, and every SLA flag (warned,
breached, escalated) is set as the minute-by-minute sweep would have left it, so a sweep right
after seeding only finds what has come due since.

Everything seeded is named ``seed-…`` (user names, team, service and category codes); a re-run
reuses that organisation and adds ``--count`` more incidents, later in number.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import time
from bisect import bisect
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import time as wall
from itertools import accumulate
from typing import Any

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from keel.catalog import queries as catalog
from keel.catalog.models import Category, Service, ServiceTarget
from keel.core import calendars
from keel.core.calendar import add_business_minutes
from keel.core.models import (
    BusinessCalendar,
    CalendarDay,
    DayKind,
    Department,
    Language,
    Organisation,
    Sequence,
    Team,
    TeamMembership,
    User,
    WorkingPeriod,
)
from keel.core.roles import Role
from keel.incidents.lifecycle import HoldReason, Status
from keel.incidents.models import Channel, Incident, ResolutionCode

PREFIX = "seed"
NUMBER_KEY = "INC"

# --- the organisation ------------------------------------------------------------------------

DEPARTMENTS = [
    ("finance", "Finance 财务部"),
    ("sales", "Sales"),
    ("hr", "Human Resources"),
    ("operations", "Operations 运营部"),
    ("engineering", "Engineering"),
    ("logistics", "Logistics 物流部"),
    ("marketing", "Marketing"),
    ("legal", "Legal"),
    ("it", "IT"),
]

# code, name, agents, escalates to
TEAMS = [
    ("desk", "Service Desk", 30, "desktop"),
    ("desktop", "Desktop Support", 12, "field-sh"),
    ("network", "Network", 8, None),
    ("servers", "Server Operations", 8, None),
    ("database", "Database Administration", 5, None),
    ("erp", "ERP Support", 10, None),
    ("collab", "E-mail and Collaboration", 6, "servers"),
    ("iam", "Identity and Access", 6, None),
    ("security", "Security Operations", 6, None),
    ("print", "Print Services", 4, "field-sh"),
    ("telecom", "Telephony", 4, "network"),
    ("field-sh", "Field Services Shanghai", 8, None),
    ("field-ldn", "Field Services London", 6, None),
    ("apps", "Business Applications", 8, "erp"),
    ("web", "Web and Portals", 5, None),
    ("storage", "Storage and Backup", 4, None),
    ("cloud", "Cloud Platform", 6, None),
    ("mobile", "Mobile Devices", 5, "desktop"),
    ("facilities", "Facilities IT", 4, None),
    ("vendor", "Supplier Desk", 3, None),
]

# code | name | team | criticality | calendar | weight (share of incidents) | typical titles
_SERVICE_TABLE = """
laptops | Laptops and desktops | desk | medium | shanghai | 14 | Laptop does not start; Laptop is very slow; Blue screen after update; Docking station not detecting monitors; 笔记本电脑无法开机; Keyboard keys not working
accounts | Accounts and passwords | desk | high | extended | 12 | Password expired, cannot log in; Account locked out; MFA app lost with old phone; 密码过期无法登录; Need access to shared drive
email | E-mail and calendar | collab | high | shanghai | 10 | Outlook keeps asking for my password; Cannot send e-mail to external address; Shared mailbox missing; Meeting invites not arriving; 邮箱已满无法收信
network | Office network and Wi-Fi | network | high | always | 7 | Wi-Fi drops every few minutes; No network in meeting room 3; 无法连接公司 Wi-Fi; Network very slow on floor 2
vpn | Remote access (VPN) | network | high | always | 5 | VPN disconnects every 10 minutes; Cannot connect to VPN from home; VPN 连接后无法访问内网
printing | Printing and scanning | print | low | london | 6 | Printer on the second floor jams; Scanner does not send to e-mail; 打印机卡纸; Printer prints blank pages
erp | ERP | erp | critical | always | 5 | ERP error when posting invoice; Month-end close report fails; 月末结账时 ERP 报错; Cannot approve purchase order
crm | CRM | apps | high | london | 3 | CRM dashboard does not load; Cannot save customer record; CRM sync with e-mail broken
hr-system | HR system | apps | medium | shanghai | 2 | Payslip not visible; Leave request stuck in approval; 无法提交请假申请
intranet | Intranet | web | low | shanghai | 2 | Intranet page shows error 500; Search on intranet returns nothing
website | Public website | web | critical | always | 1 | Website contact form not working; Website very slow
telephony | Telephony | telecom | medium | extended | 3 | Desk phone has no dial tone; Voicemail not working; 座机无法拨出
mobile | Mobile phones | mobile | medium | shanghai | 4 | Company phone cannot sync e-mail; Need new SIM card; 手机无法同步邮件
file-shares | File shares | storage | medium | always | 3 | Cannot open file on shared drive; Folder deleted by mistake, please restore
backup | Backup and restore | storage | high | always | 1 | Restore of last week's files needed; Backup job failed
databases | Databases | database | critical | always | 1 | Reporting database slow; Database connection timeouts
servers | Servers | servers | critical | always | 2 | Server disk almost full; Application server not responding
cloud | Cloud platform | cloud | high | always | 2 | Deployment pipeline fails; Cloud VM unreachable
security | Security incidents | security | critical | always | 2 | Phishing e-mail received; Suspicious login alert; 收到钓鱼邮件
identity | Single sign-on | iam | critical | always | 2 | SSO login loops back to the start page; Cannot log in to any application
collaboration | Chat and video meetings | collab | medium | extended | 4 | Video calls freeze; Cannot share screen in meetings; 会议软件没有声音
software | Software installation | desk | low | shanghai | 5 | Need Visio installed; Software licence expired; 需要安装 PDF 编辑器
meeting-rooms | Meeting-room equipment | facilities | low | shanghai | 2 | Projector in room 5 shows no picture; Room display not booking
field-sh | On-site support Shanghai | field-sh | medium | shanghai | 2 | Monitor flickers; Need a new mouse and keyboard; 显示器闪烁
field-ldn | On-site support London | field-ldn | medium | london | 2 | Monitor flickers; Desk move: set up my equipment
warehouse | Warehouse system | apps | high | extended | 2 | Scanner guns cannot reach warehouse system; Label printing fails; 仓库系统无法打印标签
bi | Reporting and BI | database | medium | london | 1 | Sales report shows wrong totals; Dashboard not refreshed
edi | Supplier EDI | vendor | high | always | 1 | EDI orders not received from supplier; Invoice file rejected
hardware-orders | Hardware orders | desk | low | shanghai | 2 | Laptop battery swollen; Replacement charger needed
payroll | Payroll | apps | critical | london | 1 | Payroll run failed; Overtime not imported into payroll
"""
SERVICES: list[tuple[str, str, str, str, str, float, list[str]]] = [
    (
        *(f.strip() for f in row.split("|")[:5]),
        float(row.split("|")[5]),
        [t.strip() for t in row.split("|")[6].split(";")],
    )
    for row in _SERVICE_TABLE.strip().splitlines()
]
GENERIC_TITLES = ["Application error", "Cannot log in", "Very slow", "Feature not working"]

CATEGORIES = {
    "hardware": ("Hardware", ["laptop", "desktop", "printer", "phone", "peripheral"]),
    "software": ("Software", ["install", "error", "licence", "update"]),
    "network": ("Network", ["wifi", "vpn", "lan"]),
    "access": ("Access", ["password", "account", "permissions"]),
    "service": ("Service", ["outage", "performance", "data"]),
}

FIRST_NAMES = [
    "Emma",
    "Liam",
    "Olivia",
    "Noah",
    "Ava",
    "James",
    "Sophia",
    "Lucas",
    "Mia",
    "Ethan",
    "Amelia",
    "Oliver",
    "Isla",
    "Jack",
    "Grace",
    "Harry",
    "Chloe",
    "Leo",
    "Anna",
    "Omar",
    "Priya",
    "Sofia",
    "Mateo",
    "Fatima",
    "Yuki",
    "Lars",
    "Ingrid",
    "Marco",
    "Elena",
    "Tom",
]
LAST_NAMES = [
    "Smith",
    "Brown",
    "Wilson",
    "Taylor",
    "Clark",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Nair",
    "Rossi",
    "Haddad",
    "Schmidt",
    "Martin",
    "Novak",
    "Silva",
    "Jensen",
    "Kowalski",
    "Lee",
]
CHINESE_NAMES = [
    "王芳",
    "李娜",
    "张伟",
    "刘洋",
    "陈杰",
    "杨静",
    "赵敏",
    "黄磊",
    "周婷",
    "吴强",
    "徐丽",
    "孙浩",
    "马超",
    "朱琳",
    "胡军",
    "郭燕",
    "何平",
    "林峰",
    "高敏",
    "罗刚",
]

DETAILS = [
    "It started this morning and happens every time.",
    "Several colleagues have the same problem.",
    "I restarted as suggested but it did not help.",
    "It worked yesterday. Nothing was changed on my side.",
    "Urgent: I have a customer meeting in an hour.",
    "Error message attached as a screenshot.",
    "从今天早上开始出现，重启后仍然存在。",
    "Happens only when connected to the office network.",
]
RESOLUTION_NOTES = {
    ResolutionCode.FIXED: "Fixed; tested with the requester.",
    ResolutionCode.WORKAROUND: "Workaround given until the underlying problem is fixed.",
    ResolutionCode.USER_ERROR: "Explained how to do it; works now.",
    ResolutionCode.NO_FAULT_FOUND: "Could not reproduce; works as expected now.",
    ResolutionCode.DUPLICATE: "Duplicate of an incident already being worked on.",
    ResolutionCode.HARDWARE_REPLACED: "Faulty part replaced.",
    ResolutionCode.SUPPLIER_FIXED: "Supplier fixed the fault on their side.",
    ResolutionCode.OTHER: "Resolved.",
}

# --- how a real desk's incidents are spread ---------------------------------------------------

PRIORITY_WEIGHTS = {1: 0.001, 2: 0.02, 3: 0.15, 4: 0.50, 5: 0.329}
CHANNEL_WEIGHTS = {
    Channel.PORTAL: 0.45,
    Channel.EMAIL: 0.25,
    Channel.PHONE: 0.18,
    Channel.WALK_IN: 0.03,
    Channel.CHAT: 0.06,
    Channel.MONITORING: 0.03,
}
OPEN_STATUS_WEIGHTS = {
    Status.NEW: 0.12,
    Status.ASSIGNED: 0.20,
    Status.IN_PROGRESS: 0.48,
    Status.ON_HOLD: 0.20,
}
HOLD_WEIGHTS = {
    HoldReason.AWAITING_REQUESTER: 0.6,
    HoldReason.AWAITING_SUPPLIER: 0.25,
    HoldReason.AWAITING_CHANGE: 0.15,
}
RESOLUTION_WEIGHTS = {
    ResolutionCode.FIXED: 0.45,
    ResolutionCode.WORKAROUND: 0.12,
    ResolutionCode.USER_ERROR: 0.15,
    ResolutionCode.NO_FAULT_FOUND: 0.08,
    ResolutionCode.DUPLICATE: 0.04,
    ResolutionCode.HARDWARE_REPLACED: 0.08,
    ResolutionCode.SUPPLIER_FIXED: 0.05,
    ResolutionCode.OTHER: 0.03,
}
RATING_WEIGHTS = {5: 0.58, 4: 0.26, 3: 0.08, 2: 0.04, 1: 0.04}
CANCELLED_SHARE = 0.04
RATED_SHARE = 0.25
REOPENED_SHARE = 0.03
OPEN_DECAY_DAYS = 60.0  # open incidents are mostly recent: P(open) falls off with age
AUTO_CLOSE_DAYS = 5
UNASSIGNED_MINUTES = 30


def _picker(rng: random.Random, weights: dict[Any, float]):
    """A fast weighted choice over a fixed table."""
    values = [getattr(v, "value", v) for v in weights]  # plain str/int for the driver
    cumulative = list(accumulate(weights.values()))
    total = cumulative[-1]
    rand = rng.random

    def pick() -> Any:
        return values[bisect(cumulative, rand() * total)]

    return pick


@dataclass
class SeedTeam:
    id: int
    code: str
    members: list[int]
    lead: int | None
    next_level: int | None


@dataclass
class SeedService:
    id: int
    code: str
    team_id: int
    calendar_id: int | None
    weight: float
    titles: list[str]
    spec: Any = None
    targets: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass
class World:
    teams: dict[int, SeedTeam]
    services: list[SeedService]
    requesters: list[tuple[int, int | None]]
    desk_agents: list[int]
    categories: list[int]
    pairs: dict[int, list[tuple[int, int]]]  # priority → (impact, urgency) cells giving it


class Command(BaseCommand):
    help = "Bulk-load realistic incidents (test data: no audit events; numbering kept gap-free)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="incidents to add")
        parser.add_argument("--open-fraction", type=float, default=0.1)
        parser.add_argument("--teams", type=int, default=20)
        parser.add_argument("--services", type=int, default=30)
        parser.add_argument("--requesters", type=int, default=2000)
        parser.add_argument("--batch", type=int, default=20000, help="rows per transaction")
        parser.add_argument("--days", type=int, default=730, help="spread over this many days")
        parser.add_argument("--seed", type=int, default=None, help="random seed (repeatable)")
        parser.add_argument(
            "--password", default=None, help="give seeded agents and leads this password"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="processes making rows while this one writes (1: all in this process)",
        )
        parser.add_argument("--no-analyze", action="store_true", help="skip ANALYZE afterwards")

    def handle(self, *args, **options):
        count = options["count"]
        if count < 0:
            raise CommandError("--count must be 0 or more")
        if not 0 <= options["open_fraction"] <= 1:
            raise CommandError("--open-fraction must be between 0 and 1")
        for name in ("teams", "services", "requesters", "batch", "days"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        self.verbosity = options.get("verbosity", 1)
        rng = random.Random(options["seed"])  # noqa: S311 (test data, not secrets)
        started = time.perf_counter()
        world = self.organisation(rng, options)
        setup = time.perf_counter() - started
        self.log(
            f"organisation ready in {setup:.1f}s: {len(world.teams)} teams, "
            f"{len(world.services)} services, {len(world.requesters)} requesters"
        )
        now = timezone.now().replace(microsecond=0)
        generator = Generator(world, rng, now, options["days"], options["open_fraction"])
        written = self.load(generator, count, options["batch"], options["jobs"])
        elapsed = time.perf_counter() - started - setup
        if count:
            rate = written / elapsed if elapsed else 0
            self.log(f"{written} incidents in {elapsed:.1f}s ({rate:,.0f} rows/s)")
        if count and not options["no_analyze"]:
            t0 = time.perf_counter()
            analyze()
            self.log(f"statistics refreshed in {time.perf_counter() - t0:.1f}s")

    def log(self, message: str) -> None:
        if self.verbosity:
            self.stdout.write(message)

    # --- the organisation ---------------------------------------------------------------------

    @transaction.atomic
    def organisation(self, rng: random.Random, options: dict[str, Any]) -> World:
        organisation, _created = Organisation.objects.get_or_create(
            code=PREFIX, defaults={"name": "Seeded Trading Group", "time_zone": "Asia/Shanghai"}
        )
        calendar_ids = ensure_calendars()
        departments = ensure_departments(organisation)
        groups = {g.name: g.pk for g in Group.objects.filter(name__in=[r.value for r in Role])}
        missing = [r.value for r in (Role.REQUESTER, Role.AGENT, Role.TEAM_LEAD) if r not in groups]
        if missing:
            raise CommandError(f"roles missing ({', '.join(missing)}): run `keel migrate` first")
        password = make_password(options["password"]) if options["password"] else None

        teams = ensure_teams(rng, options["teams"], groups, departments["it"], password)
        services = ensure_services(options["services"], teams, calendar_ids)
        categories = ensure_categories()
        requesters = ensure_requesters(rng, options["requesters"], departments, groups)

        team_rows = {}
        memberships: dict[int, list[int]] = {}
        for team_id, user_id in TeamMembership.objects.filter(
            team__code__startswith=f"{PREFIX}-"
        ).values_list("team_id", "user_id"):
            memberships.setdefault(team_id, []).append(user_id)
        for pk, code, lead, next_level in Team.objects.filter(
            code__startswith=f"{PREFIX}-"
        ).values_list("pk", "code", "lead_id", "next_level_id"):
            team_rows[pk] = SeedTeam(pk, code, memberships.get(pk, []), lead, next_level)
        desk = next((t for t in team_rows.values() if t.code == f"{PREFIX}-desk"), None)
        desk_agents = desk.members if desk and desk.members else [u for u, _d in requesters[:1]]
        levels = catalog.levels()
        pairs: dict[int, list[tuple[int, int]]] = {}
        for (impact, urgency), priority in catalog.matrix().items():
            if impact <= levels and urgency <= levels:
                pairs.setdefault(priority, []).append((impact, urgency))
        for service in services:
            service.spec = calendars.spec_for(service.calendar_id)
            service.targets = {p: catalog.targets_for(service.id, p) for p in range(1, 6)}
        return World(team_rows, services, requesters, desk_agents, categories, pairs)

    # --- the incidents ------------------------------------------------------------------------

    def _batches(self, generator: Generator, sizes: list[int], jobs: int):
        """``(size, rows)`` per batch in order; made by ``jobs`` forked processes when > 1.

        Making rows (calendar math, random draws) costs more than writing them, so on a
        multi-core machine other processes make the next batches while this one writes.
        Each batch has its own random stream, so the data is the same whatever ``jobs`` is.
        """
        tasks = [(index, size, len(sizes)) for index, size in enumerate(sizes)]
        if jobs <= 1 or len(sizes) < 2 or "fork" not in multiprocessing.get_all_start_methods():
            for task in tasks:
                yield task[1], generator.rows(*task[1:], index=task[0])
            return
        global _WORKER_GENERATOR
        _WORKER_GENERATOR = generator
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            for task, rows in zip(tasks, pool.imap(_make_batch, tasks), strict=True):
                yield task[1], rows
        _WORKER_GENERATOR = None

    def load(self, generator: Generator, count: int, batch: int, jobs: int = 1) -> int:
        table = Incident._meta.db_table
        columns = generator.columns
        number_at = generator.number_index
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (model's own names)
            f"VALUES ({', '.join(['%s'] * len(columns))})"
        )
        unnest_sql = ""
        if connection.vendor == "postgresql":
            fields = {f.column: f for f in Incident._meta.concrete_fields}
            arrays = ", ".join(f"%b::{fields[c].db_type(connection)}[]" for c in columns)
            unnest_sql = (
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"  # noqa: S608
            )
        Sequence.objects.get_or_create(key=NUMBER_KEY, defaults={"value": 0})
        reserve = (
            f"UPDATE {Sequence._meta.db_table} SET value = value + %s "  # noqa: S608
            "WHERE key = %s RETURNING value"
        )
        tune_connection()
        batches = max(1, math.ceil(count / batch))
        sizes = [min(batch, count - i * batch) for i in range(batches) if count - i * batch > 0]
        written = 0
        started = time.perf_counter()
        for size, rows in self._batches(generator, sizes, jobs):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(reserve, [size, NUMBER_KEY])
                last = int(cursor.fetchone()[0])
                first = last - size + 1
                for offset, row in enumerate(rows):
                    row[number_at] = f"{NUMBER_KEY}-{first + offset:06d}"
                if unnest_sql:
                    # One statement per batch, each column sent as one array: PostgreSQL parses
                    # and plans once instead of per row (Django's client-side binding of 900k
                    # parameters, or executemany, are 3-5× slower).
                    import psycopg

                    with psycopg.Cursor(connection.connection) as raw:  # binds on the server
                        raw.execute(unnest_sql, [list(col) for col in zip(*rows, strict=True)])
                else:
                    cursor.executemany(sql, rows)
            written += size
            if self.verbosity and len(sizes) > 1:
                rate = written / (time.perf_counter() - started)
                self.stdout.write(f"  {written:>10,} / {count:,}  ({rate:,.0f} rows/s)")
        return written


_WORKER_GENERATOR: Generator | None = None


def _make_batch(task: tuple[int, int, int]) -> list[list[Any]]:
    index, size, batches = task
    assert _WORKER_GENERATOR is not None  # noqa: S101 (set before the fork)
    return _WORKER_GENERATOR.rows(size, batches, index=index)


def tune_connection() -> None:
    """Bulk-load settings for this connection only (never inside a caller's transaction)."""
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")  # 1 GB: the indexes stay in memory
            cursor.execute("PRAGMA temp_store=MEMORY")
        elif connection.vendor == "postgresql":
            cursor.execute("SET synchronous_commit = off")


def analyze() -> None:
    """Fresh planner statistics, so the queue queries use their partial indexes at once."""
    if connection.in_atomic_block:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("ANALYZE")
        else:
            for model in (Incident, User, TeamMembership, Team, Service):
                cursor.execute(f"ANALYZE {model._meta.db_table}")


# --- the organisation, created once and found again on a re-run -------------------------------


def _code(*parts: str) -> str:
    return "-".join((PREFIX, *parts))


CALENDARS = {
    "shanghai": (
        "Seed: Shanghai office",
        "Asia/Shanghai",
        [(d, wall(9), wall(12)) for d in range(5)] + [(d, wall(13), wall(18)) for d in range(5)],
        "CN",
    ),
    "london": (
        "Seed: London office",
        "Europe/London",
        [(d, wall(9), wall(17, 30)) for d in range(5)],
        "GB",
    ),
    "extended": (
        "Seed: extended hours",
        "Asia/Shanghai",
        [(d, wall(7), wall(22)) for d in range(7)],
        "",
    ),
}


def ensure_calendars() -> dict[str, int | None]:
    import holidays

    ids: dict[str, int | None] = {"always": None}
    this_year = timezone.now().year
    years = list(range(this_year - 3, this_year + 2))
    for key, (name, zone, periods, country) in CALENDARS.items():
        calendar, created = BusinessCalendar.objects.get_or_create(
            name=name, defaults={"time_zone": zone, "country": country}
        )
        ids[key] = calendar.pk
        if not created:
            continue
        WorkingPeriod.objects.bulk_create(
            WorkingPeriod(calendar=calendar, weekday=d, start=s, end=e) for d, s, e in periods
        )
        if country:
            table = holidays.country_holidays(country, years=years)
            days = {
                day: CalendarDay(
                    calendar=calendar, date=day, kind=DayKind.HOLIDAY, name=str(n)[:200]
                )
                for day, n in table.items()
            }
            for day in getattr(table, "weekend_workdays", set()):
                if day not in days:
                    days[day] = CalendarDay(
                        calendar=calendar,
                        date=day,
                        kind=DayKind.WORKDAY,
                        name="Make-up working day",
                    )
            CalendarDay.objects.bulk_create(days.values())
        calendars.invalidate(calendar.pk)
    return ids


def ensure_departments(organisation: Organisation) -> dict[str, Department]:
    existing = {d.code: d for d in Department.objects.filter(organisation=organisation)}
    new = [
        Department(organisation=organisation, name=name, code=code)
        for code, name in DEPARTMENTS
        if code not in existing
    ]
    Department.objects.bulk_create(new)
    return {d.code: d for d in Department.objects.filter(organisation=organisation)}


def _person_name(rng: random.Random, chinese: bool) -> str:
    if chinese:
        return rng.choice(CHINESE_NAMES)
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _make_users(
    rng: random.Random,
    usernames: list[str],
    department_of,
    password: str | None,
) -> None:
    """Create the users among ``usernames`` that do not exist yet."""
    existing = set(User.objects.filter(username__in=usernames).values_list("username", flat=True))
    new = []
    for username in usernames:
        if username in existing:
            continue
        chinese = rng.random() < 0.3
        new.append(
            User(
                username=username,
                name=_person_name(rng, chinese),
                email=f"{username}@seed.example.com",
                password=password or make_password(None),
                language=Language.CHINESE if chinese else Language.ENGLISH,
                time_zone="Asia/Shanghai" if chinese else "Europe/London",
                department=department_of(username),
            )
        )
    User.objects.bulk_create(new, batch_size=2000)


def _grant(usernames: list[str], *group_ids: int) -> None:
    through = User.groups.through
    users = dict(User.objects.filter(username__in=usernames).values_list("username", "pk"))
    have = set(
        through.objects.filter(user_id__in=users.values(), group_id__in=group_ids).values_list(
            "user_id", "group_id"
        )
    )
    through.objects.bulk_create(
        [
            through(user_id=pk, group_id=g)
            for pk in users.values()
            for g in group_ids
            if (pk, g) not in have
        ],
        batch_size=5000,
    )


def ensure_teams(
    rng: random.Random, how_many: int, groups: dict[str, int], it: Department, password: str | None
) -> dict[str, Team]:
    plan = list(TEAMS[:how_many])
    for n in range(len(plan), how_many):
        plan.append((f"group{n + 1}", f"Support Group {n + 1}", 5, None))
    codes = [_code(code) for code, *_rest in plan]
    existing = {t.code: t for t in Team.objects.filter(code__in=codes)}
    Team.objects.bulk_create(
        [
            Team(name=f"{name} (seed)", code=_code(code), email=f"{code}@seed.example.com")
            for code, name, _agents, _next in plan
            if _code(code) not in existing
        ]
    )
    teams = {t.code: t for t in Team.objects.filter(code__in=codes)}
    agents_of: dict[str, list[str]] = {}
    for code, _name, agents, _next in plan:
        agents_of[code] = [f"{PREFIX}-{code}-{i:02d}" for i in range(1, agents + 1)]
    everyone = [u for names in agents_of.values() for u in names]
    _make_users(rng, everyone, lambda _u: it, password)
    _grant(everyone, groups[Role.AGENT])
    leads = [names[0] for names in agents_of.values()]
    _grant(leads, groups[Role.TEAM_LEAD])
    ids = dict(User.objects.filter(username__in=everyone).values_list("username", "pk"))
    have = set(
        TeamMembership.objects.filter(team__in=teams.values()).values_list("team_id", "user_id")
    )
    TeamMembership.objects.bulk_create(
        [
            TeamMembership(team=teams[_code(code)], user_id=ids[u])
            for code, names in agents_of.items()
            for u in names
            if (teams[_code(code)].pk, ids[u]) not in have
        ]
    )
    for code, _name, _agents, next_code in plan:
        team = teams[_code(code)]
        lead = ids[agents_of[code][0]]
        next_team = teams.get(_code(next_code)) if next_code else None
        next_id = next_team.pk if next_team else None
        if team.lead_id != lead or team.next_level_id != next_id:
            Team.objects.filter(pk=team.pk).update(lead_id=lead, next_level_id=next_id)
    return teams


def ensure_services(
    how_many: int, teams: dict[str, Team], calendar_ids: dict[str, int | None]
) -> list[SeedService]:
    plan = list(SERVICES[:how_many])
    for n in range(len(plan), how_many):
        plan.append(
            (f"app{n + 1}", f"Application {n + 1}", "", "medium", "always", 1.0, GENERIC_TITLES)
        )
    team_list = list(teams.values())
    existing = {s.code: s for s in Service.objects.filter(code__startswith=f"{PREFIX}-")}
    new = []
    for index, (code, name, team_code, criticality, calendar, _w, _t) in enumerate(plan):
        if _code(code) in existing:
            continue
        team = teams.get(_code(team_code)) or team_list[index % len(team_list)]
        new.append(
            Service(
                name=f"{name} (seed)",
                code=_code(code),
                team=team,
                calendar_id=calendar_ids[calendar],
                criticality=criticality,
                description=f"{name}, as seeded for benchmarks.",
                owner_id=team.lead_id,
            )
        )
    Service.objects.bulk_create(new)
    found = {
        s.code: s for s in Service.objects.filter(code__startswith=f"{PREFIX}-", is_active=True)
    }
    critical = [s for s in found.values() if s.criticality == "critical"]
    have_targets = set(
        ServiceTarget.objects.filter(service__in=critical).values_list("service_id", flat=True)
    )
    ServiceTarget.objects.bulk_create(
        [
            ServiceTarget(service=s, priority=p, respond_minutes=r, resolve_minutes=v)
            for s in critical
            if s.pk not in have_targets
            for p, (r, v) in {1: (10, 120), 2: (20, 240), 3: (60, 960)}.items()
        ]
    )
    catalog.invalidate()
    services = []
    weights = {_code(code): (weight, titles) for code, _n, _t, _c, _cal, weight, titles in plan}
    for code, service in sorted(found.items()):
        weight, titles = weights.get(code, (1.0, GENERIC_TITLES))
        services.append(
            SeedService(service.pk, code, service.team_id, service.calendar_id, weight, titles)
        )
    return services


def ensure_categories() -> list[int]:
    existing = {c.code: c for c in Category.objects.filter(code__startswith=f"{PREFIX}-")}
    for code, (name, children) in CATEGORIES.items():
        parent = existing.get(_code(code))
        if parent is None:
            parent = Category.objects.create(name=f"{name} (seed)", code=_code(code))
        for child in children:
            if _code(code, child) not in existing:
                Category.objects.create(
                    name=child.replace("-", " ").capitalize(),
                    code=_code(code, child),
                    parent=parent,
                )
    return list(
        Category.objects.filter(code__startswith=f"{PREFIX}-", parent__isnull=False).values_list(
            "pk", flat=True
        )
    )


def ensure_requesters(
    rng: random.Random, how_many: int, departments: dict[str, Department], groups: dict[str, int]
) -> list[tuple[int, int | None]]:
    usernames = [f"{PREFIX}-user-{i:05d}" for i in range(1, how_many + 1)]
    business = [d for code, d in departments.items() if code != "it"] or list(departments.values())
    _make_users(rng, usernames, lambda u: business[int(u.rsplit("-", 1)[1]) % len(business)], None)
    _grant(usernames, groups[Role.REQUESTER])
    rows = list(
        User.objects.filter(username__in=usernames)
        .order_by("username")
        .values_list("pk", "department_id")
    )
    # The first person of each department manages it (department scope, for the tests of S-rows).
    for department in business:
        if department.manager_id is None:
            manager = next((pk for pk, d in rows if d == department.pk), None)
            if manager:
                Department.objects.filter(pk=department.pk).update(manager_id=manager)
    return rows


# --- the rows -----------------------------------------------------------------------------------


def _calibrate(open_fraction: float, days: float, tau: float, cap: float = 0.97) -> float:
    """``a`` such that P(open | age) = min(cap, a·e^(−age/τ)) averages ``open_fraction``."""
    if open_fraction <= 0:
        return 0.0
    steps = 2000

    def mean(a: float) -> float:
        return (
            sum(min(cap, a * math.exp(-(i + 0.5) * days / steps / tau)) for i in range(steps))
            / steps
        )

    low, high = 0.0, 1.0
    while mean(high) < open_fraction and high < 1e9:
        high *= 2
    if mean(high) < open_fraction:  # asks for more than the cap allows: everything open
        return high
    for _ in range(60):
        middle = (low + high) / 2
        if mean(middle) < open_fraction:
            low = middle
        else:
            high = middle
    return high


class Generator:
    """Makes incident rows in number order (created_at ascending across batches)."""

    # Every column the model has: the ones this generator does not know (added later) get
    # their model default, so the seed keeps working as the model grows.
    fields = [f for f in Incident._meta.concrete_fields if not f.primary_key]
    columns = [f.column for f in fields]
    number_index = columns.index("number")

    def __init__(
        self, world: World, rng: random.Random, now: datetime, days: int, open_fraction: float
    ):
        self.world, self.rng, self.now = world, rng, now
        self.seed = rng.getrandbits(64)
        self.defaults = {
            f.column: f.get_db_prep_save(f.get_default(), connection) for f in self.fields
        }
        self.days = days
        self.origin = now - timedelta(days=days)
        self.tau = min(OPEN_DECAY_DAYS, days / 3) if open_fraction < 1 else 1e9
        self.open_a = _calibrate(open_fraction, days, self.tau)
        self.open_fraction = open_fraction
        self.pick_service = _picker(rng, {i: s.weight for i, s in enumerate(world.services)})
        self.pick_priority = _picker(
            rng, {p: w for p, w in PRIORITY_WEIGHTS.items() if p in world.pairs}
        )
        self.pick_channel = _picker(rng, CHANNEL_WEIGHTS)
        self.pick_open_status = _picker(rng, OPEN_STATUS_WEIGHTS)
        self.pick_hold = _picker(rng, HOLD_WEIGHTS)
        self.pick_resolution = _picker(rng, RESOLUTION_WEIGHTS)
        self.pick_rating = _picker(rng, RATING_WEIGHTS)
        # Some people report far more than others (a Zipf-like spread over requesters).
        self.pick_requester = _picker(
            rng, {i: 1.0 / (1 + i) ** 0.6 for i in range(len(world.requesters))}
        )
        vendor = connection.vendor
        if vendor == "sqlite":
            # Django's own SQLite format for UTC: "YYYY-MM-DD HH:MM:SS[.ffffff]" without offset.
            self.stamp = lambda dt: None if dt is None else dt.isoformat(" ")[:-6]
        else:
            self.stamp = lambda dt: dt

    def _created_times(self, size: int, index: int, batches: int) -> list[datetime]:
        """``size`` instants in this batch's slice of the period, busier in office hours."""
        rng = self.rng
        span = self.days * 86400.0
        low = span * index / batches
        width = span / batches
        out: list[float] = []
        while len(out) < size:
            t = low + rng.random() * width
            moment = self.origin + timedelta(seconds=t)
            local_hour = (moment.hour + 8) % 24  # most people are in Shanghai
            weekday = (moment + timedelta(hours=8)).weekday()
            weight = (1.0 if 8 <= local_hour < 19 else 0.15) * (1.0 if weekday < 5 else 0.2)
            if rng.random() < weight:
                out.append(t)
        out.sort()
        return [self.origin + timedelta(seconds=round(t)) for t in out]

    def rows(self, size: int, batches: int, *, index: int) -> list[list[Any]]:
        """Batch ``index`` of ``batches``: ``size`` incidents from its slice of the period."""
        self.rng.seed(f"{self.seed}:{index}")  # its own stream: same rows in any process
        return [self.row(created) for created in self._created_times(size, index, batches)]

    def row(self, created: datetime) -> list[Any]:
        rng, world, now = self.rng, self.world, self.now
        service = world.services[self.pick_service()]
        spec = service.spec
        priority = self.pick_priority()
        impact, urgency = rng.choice(world.pairs[priority])
        requester_id, department_id = world.requesters[self.pick_requester()]
        channel = self.pick_channel()
        team = world.teams[service.team_id]
        reported_by = (
            rng.choice(world.desk_agents)
            if channel in (Channel.PHONE, Channel.WALK_IN, Channel.CHAT)
            else None
        )
        respond_minutes, resolve_minutes = service.targets[priority]
        age_days = (now - created).total_seconds() / 86400
        p_open = min(0.97, self.open_a * math.exp(-age_days / self.tau))
        title = rng.choice(service.titles)
        r: dict[str, Any] = {
            "title": title,
            "description": f"{title}. {rng.choice(DETAILS)}",
            "requester_id": requester_id,
            "department_id": department_id,
            "reported_by_id": reported_by,
            "service_id": service.id,
            "category_id": rng.choice(world.categories)
            if world.categories and rng.random() < 0.9
            else None,
            "impact": impact,
            "urgency": urgency,
            "priority": priority,
            "priority_reason": "",
            "channel": channel,
            "team_id": team.id,
            "assignee_id": None,
            "hold_reason": "",
            "resolution_code": "",
            "resolution_notes": "",
            "created_at": created,
            "assigned_at": None,
            "first_response_at": None,
            "resolved_at": None,
            "closed_at": None,
            "cancelled_at": None,
            "paused_at": None,
            "paused_minutes": 0.0,
            "response_breached": False,
            "resolution_breached": False,
            "warned": False,
            "escalation_level": 0,
            "reassignment_count": 0,
            "reopen_count": 0,
            "is_major": False,
            "major_manager_id": None,
            "parent_id": None,
            "rating": None,
            "rating_comment": "",
            "rated_at": None,
            "import_source": "",
            "external_id": "",
        }
        respond_by = add_business_minutes(spec, created, respond_minutes)
        resolve_by = add_business_minutes(spec, created, resolve_minutes)
        warn_at = add_business_minutes(spec, created, resolve_minutes * 0.75)
        r["respond_by"], r["resolve_by"], r["warn_at"] = respond_by, resolve_by, warn_at
        wall_minutes = timedelta(minutes=1)
        if rng.random() < p_open:
            self._open(r, team, created, now, respond_by, resolve_by, warn_at, wall_minutes)
        else:
            self._closed(
                r, team, spec, created, now, respond_by, resolve_by, warn_at, resolve_minutes
            )
        r["updated_at"] = max(
            t
            for t in (
                created,
                r["assigned_at"],
                r["first_response_at"],
                r["resolved_at"],
                r["closed_at"],
                r["cancelled_at"],
                r["paused_at"],
                r["rated_at"],
            )
            if t is not None
        )
        stamp = self.stamp
        for key in (
            "created_at",
            "updated_at",
            "assigned_at",
            "first_response_at",
            "resolved_at",
            "closed_at",
            "cancelled_at",
            "respond_by",
            "resolve_by",
            "warn_at",
            "paused_at",
            "rated_at",
        ):
            r[key] = stamp(r[key])
        r["number"] = None
        defaults = self.defaults
        return [r[c] if c in r else defaults[c] for c in self.columns]

    def _open(self, r, team, created, now, respond_by, resolve_by, warn_at, minute) -> None:
        rng = self.rng
        age = now - created
        status = Status.NEW if age < timedelta(minutes=10) else self.pick_open_status()
        r["status"], r["is_open"] = status, True
        r["version"] = 1
        if status != Status.NEW:
            assigned = created + min(age / 2, minute * rng.expovariate(1 / 25))
            r["assigned_at"] = assigned
            r["first_response_at"] = min(now, assigned + minute * rng.expovariate(1 / 10))
            r["assignee_id"] = rng.choice(team.members) if team.members else None
            r["version"] += 2
        clock_until = now
        if status == Status.ON_HOLD:
            start = r["first_response_at"] or created
            paused = max(start, now - minute * rng.expovariate(1 / (2 * 24 * 60)))
            r["paused_at"], r["hold_reason"] = paused, self.pick_hold()
            clock_until = paused
            r["version"] += 1
        first = r["first_response_at"]
        if first is None:
            r["response_breached"] = respond_by <= now
        else:
            r["response_breached"] = first > respond_by
        # As the sweep would have left it: warned, breached, escalated to the next-level team.
        if resolve_by <= clock_until:
            r["resolution_breached"] = r["warned"] = True
            if status != Status.ON_HOLD and team.next_level:
                next_team = self.world.teams.get(team.next_level)
                if next_team is not None:
                    r["team_id"], r["assignee_id"] = next_team.id, None
                    r["escalation_level"] += 1
                    r["reassignment_count"] += 1
                    r["version"] += 1
        elif warn_at <= clock_until:
            r["warned"] = True
        unowned_since = now - timedelta(minutes=UNASSIGNED_MINUTES)
        if r["assignee_id"] is None and r["escalation_level"] == 0 and created <= unowned_since:
            r["escalation_level"] = 1

    def _closed(
        self, r, team, spec, created, now, respond_by, resolve_by, warn_at, resolve_minutes
    ) -> None:
        rng = self.rng
        minute = timedelta(minutes=1)
        latest = max(created, now - minute)
        assigned = min(latest, created + minute * rng.expovariate(1 / 25))
        r["assigned_at"] = assigned
        r["first_response_at"] = min(latest, assigned + minute * rng.expovariate(1 / 10))
        r["assignee_id"] = rng.choice(team.members) if team.members else None
        r["response_breached"] = r["first_response_at"] > respond_by
        reassigned = rng.random()
        r["reassignment_count"] = (
            0 if reassigned < 0.7 else 1 if reassigned < 0.9 else 2 if reassigned < 0.97 else 3
        )
        if rng.random() < CANCELLED_SHARE:
            r["status"], r["is_open"] = Status.CANCELLED, False
            r["cancelled_at"] = min(latest, created + minute * rng.expovariate(1 / 180))
            r["version"] = 3
            return
        # Most incidents are resolved well inside their target; about one in eight misses it.
        factor = math.exp(rng.gauss(math.log(0.35), 0.9))
        resolved = add_business_minutes(spec, created, max(1.0, resolve_minutes * factor))
        resolved = max(r["first_response_at"], min(latest, resolved))
        r["resolved_at"] = resolved
        code = self.pick_resolution()
        r["resolution_code"], r["resolution_notes"] = code, RESOLUTION_NOTES[code]
        r["resolution_breached"] = resolved > resolve_by
        r["warned"] = resolved > warn_at
        r["version"] = 5
        if rng.random() < REOPENED_SHARE:
            r["reopen_count"] = 1
            r["version"] += 2
        closed = resolved + min(timedelta(days=AUTO_CLOSE_DAYS), minute * rng.expovariate(1 / 1440))
        if closed >= now:
            r["status"], r["is_open"] = Status.RESOLVED, False
            return
        r["status"], r["is_open"], r["closed_at"] = Status.CLOSED, False, closed
        r["version"] += 1
        if rng.random() < RATED_SHARE:
            r["rating"], r["rated_at"] = self.pick_rating(), closed
            if r["rating"] <= 2:
                r["rating_comment"] = (
                    "Took too long." if rng.random() < 0.5 else "Had to call twice."
                )
            r["version"] += 1
